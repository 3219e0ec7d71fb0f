"""Record seals: every row a gate reads is bound to the signed audit entry that last wrote it.

When ``Registry.log`` appends an entry, the rows this transaction inserted or changed since the previous entry
(tracked by an ``after_flush`` hook) are digested, column by column, into the entry's payload as
``"records": {"TABLE/ID": "HEX"}``, and each row's ``entry_idx`` is set to the entry's index. The entry is hashed
into the Merkle log and covered by a signed checkpoint, so afterwards:

- a row edited outside assay no longer matches the digest in its entry;
- a row inserted outside assay has no entry, or points at one that does not hold it;
- an entry edited to match an edited row no longer reaches the signed root.

``_auditread.unsealed`` finds these for the rows a gate is about to judge (it fails closed on any);
``Ledger.reconcile`` replays the whole log against every row for ``audit verify`` and ``doctor``, which also
finds rows deleted outside assay and rows put back to an older state that was genuinely logged once.

By hand, not a library: no ORM extension binds rows to an external transparency log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session, attributes

from assay.errors import AssayError
from assay.registry._schema import (
    ApprovalRow,
    ArtifactRow,
    DatasetRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    LineageRow,
    ModelRow,
    ReleaseArtifactRow,
    ReleaseModelRow,
    ReleaseRow,
    TokenRow,
    VersionRow,
    WaiverRow,
    WebhookRow,
)

SEALED: dict[str, Any] = {cls.__tablename__: cls for cls in (
    ModelRow, VersionRow, LineageRow, DatasetRow, ArtifactRow, EvidenceRow, EnvironmentRow, ReleaseRow,
    ReleaseArtifactRow, ReleaseModelRow, ApprovalRow, WaiverRow, DeploymentRow, TokenRow, WebhookRow)}
"""The tables whose rows carry a seal, by table name."""
READ_AS_SETS = ("evidence", "lineage", "release_artifacts", "release_models", "deployments")
"""Tables a gate reads as "every row of X", where a row deleted outside assay would change the answer."""
_TOUCHED = "assay.touched"  # session.info: id(row) -> row, written since the last entry and not yet sealed
_INSERTED = "assay.inserted"  # session.info: (table, id) of the sealed rows this transaction inserted
_SEALED_HERE = "assay.sealed_here"  # session.info: (table, id) of rows this transaction wrote (trusted as written)
READ_BATCH = 5_000
"""Rows read per round trip while reconciling."""


class RecordTampered(AssayError):
    """Rows a decision would rest on were inserted, changed or deleted outside assay: nothing is decided or
    changed (exit 1) until they are restored; ``assay audit verify`` names every one."""

    http_status = 409

    exit_code = 1


def _key(row: Any) -> str:
    return f"{row.__tablename__}/{row.id}"


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLite hands back naive UTC, PostgreSQL aware in the session's zone
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return value


def record_digest(row: Any) -> str:
    """SHA-256 (hex) of the row's columns except ``entry_idx``, as canonical JSON."""
    columns = {c.key: _canonical(getattr(row, c.key)) for c in row.__table__.columns if c.key != "entry_idx"}
    text = json.dumps(columns, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@event.listens_for(Session, "after_flush")
def _track(session: Session, _context: Any) -> None:
    """Remember the sealed rows this flush inserted or changed (a change of ``entry_idx`` alone is the seal)."""
    touched = session.info.setdefault(_TOUCHED, {})
    inserted = session.info.setdefault(_INSERTED, set())
    for row in session.new:
        if getattr(row, "__tablename__", None) in SEALED:
            touched[id(row)] = row
            inserted.add((row.__tablename__, row.id))  # keys, not id(): an object's id is reused once it is freed
    for row in session.dirty:
        if getattr(row, "__tablename__", None) in SEALED:
            state = inspect(row)
            if any(state.attrs[c.key].history.has_changes() for c in row.__table__.columns if c.key != "entry_idx"):
                touched[id(row)] = row


def touch(session: Session, row: Any) -> None:
    """Seal ``row`` with the next entry: for a row written by a Core statement, which ``_track`` does not see."""
    session.info.setdefault(_TOUCHED, {})[id(row)] = row


def touch_unsealed(session: Session) -> list[str]:
    """Mark every row without an entry (written before seals existed, or inserted outside assay) to be sealed by
    the next entry; returns their keys, for the caller to show. Only an admin command should call this."""
    keys = []
    for cls in SEALED.values():
        for row in session.scalars(select(cls).where(cls.entry_idx.is_(None))):
            touch(session, row)
            keys.append(_key(row))
    return keys


def take(session: Session) -> tuple[dict[str, str], list[str], list[Any]]:
    """Flush, then for the rows written since the last entry: their digests (the payload's ``records``), the
    evidence blobs they cite (its ``blobs``, which an exported bundle must carry), and the rows."""
    session.flush()
    rows = list(session.info.pop(_TOUCHED, {}).values())
    return {_key(r): record_digest(r) for r in rows}, sorted({d for r in rows for d in _blobs(r)}), rows


def _blobs(row: Any) -> list[str]:
    """The evidence-store digests a row cites."""
    if isinstance(row, EvidenceRow | ArtifactRow):
        return [row.digest]
    if isinstance(row, DeploymentRow):
        return list(row.evidence_digests)
    if isinstance(row, ReleaseRow) and row.params_digest:
        return [row.params_digest]
    return []


def bind(session: Session, rows: Sequence[Any], index: int) -> None:
    """Point each row at entry ``index``, without marking it changed (the seal is not part of the digest)."""
    by_table: dict[str, list[int]] = {}
    for row in rows:
        by_table.setdefault(row.__tablename__, []).append(row.id)
        attributes.set_committed_value(row, "entry_idx", index)
    here = session.info.setdefault(_SEALED_HERE, set())
    for table, ids in by_table.items():
        cls = SEALED[table]
        session.execute(update(cls).where(cls.id.in_(ids)).values(entry_idx=index).execution_options(
            synchronize_session=False))
        here.update((table, i) for i in ids)


def written_here(session: Session, row: Any) -> bool:
    """Whether this transaction inserted ``row`` or sealed it with one of its own entries. A row it merely changed
    and has not sealed yet is not: it is checked against the seal it had, so a change made here can never hide
    one made outside assay."""
    key = (row.__tablename__, row.id)
    return key in session.info.get(_INSERTED, set()) or key in session.info.get(_SEALED_HERE, set())


def sealed_records(body: dict[str, Any]) -> dict[str, Any]:
    """The ``records`` of a parsed entry body: row key -> digest."""
    records = (body.get("payload") or {}).get("records")
    return records if isinstance(records, dict) else {}


def row_key(row: Any) -> str:
    """``TABLE/ID``: how entries name a row."""
    return _key(row)


class Ledger:
    """The newest digest and entry of every record, collected while the log is read once for ``audit verify``."""

    def __init__(self) -> None:
        self.newest: dict[str, tuple[str, int]] = {}

    def add(self, index: int, payload: Any) -> None:
        """Take the ``records`` of entry ``index``'s payload (anything else in it is ignored)."""
        records = payload.get("records") if isinstance(payload, dict) else None
        if isinstance(records, dict):
            for key, digest in records.items():
                self.newest[key] = (str(digest), index)

    def reconcile(self, session: Session) -> Iterator[tuple[str, str, int | None]]:
        """Every sealed row against the records: yields (kind, message, entry index) for each row inserted,
        changed, deleted or put back to an older state outside assay (``record-unlogged``, ``record-altered``,
        ``record-deleted``, ``record-stale``). Memory: one digest per row ever sealed."""
        newest = dict(self.newest)
        for cls in SEALED.values():
            last = 0
            while True:
                batch = session.scalars(select(cls).where(cls.id > last).order_by(cls.id).limit(READ_BATCH)).all()
                if not batch:
                    break
                for row in batch:
                    key = _key(row)
                    logged = newest.pop(key, None)
                    if logged is None:
                        yield ("record-unlogged", f"{key} was inserted outside assay: no log entry wrote it", None)
                    elif logged[0] != record_digest(row):
                        yield ("record-altered", f"{key} was changed outside assay: it does not match log entry "
                               f"{logged[1]}, the last to write it", logged[1])
                    elif row.entry_idx != logged[1]:
                        yield ("record-stale", f"{key} names log entry {row.entry_idx}, but entry {logged[1]} wrote "
                               "it last", logged[1])
                last = batch[-1].id
                session.expunge_all()
        for key, (_, index) in sorted(newest.items(), key=lambda item: item[1][1]):
            yield ("record-deleted", f"{key} was deleted outside assay: log entry {index} wrote it", index)
