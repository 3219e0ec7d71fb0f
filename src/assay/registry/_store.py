"""The registry store: one class over one database and one evidence store, with its reads and writes.

Writes go through ``write()``: one transaction, serialized per model (SQLite ``BEGIN IMMEDIATE``; a row lock on
PostgreSQL), so concurrent intakes neither duplicate a version nor skip a version number.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import AssayError, InputError, UsageError
from assay.evidence import BlobStore, open_store
from assay.registry import _refs as refs
from assay.registry import _seal as seal
from assay.registry._columns import check_values  # also registers the flush check of every value
from assay.registry._db import READ_ONLY, database_damage, insert_or_ignore, open_engine
from assay.registry._faults import DatabaseFault, database_fault
from assay.registry._interface import ArtifactInfo, DatasetInfo, VersionInfo
from assay.registry._schema import ArtifactRow, DatasetRow, EvidenceRow, ModelRow
from assay.registry._seal import RecordTampered
from assay.registry._sql import Row, Sql

T = TypeVar("T")


def must_get(session: Session, cls: type[T], key: int | None) -> T:
    """A row a foreign key guarantees; its absence means the database was edited by hand."""
    found = session.get(cls, key) if key is not None else None
    if found is None:
        raise InputError(f"the registry database is inconsistent: {getattr(cls, '__tablename__', cls)} row {key} "
                         "is missing (was it edited by hand?)")
    return found


def now() -> datetime:
    """The time stamped on new rows (UTC)."""
    return datetime.now(UTC)


class WriteConflict(AssayError):
    """A write lost a race (a unique key another writer took first): nothing was changed (exit 2)."""

    http_status = 409


def _conflict(exc: IntegrityError) -> WriteConflict:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return WriteConflict(f"the database refused the change ({reason}): another command probably wrote the same "
                         "thing at the same moment; nothing was changed, run it again")


@contextlib.contextmanager
def _readable_rows() -> Iterator[None]:
    """Errors met while the database is read or written become one line each.

    A unique key another writer took first is a ``WriteConflict`` (a lost race: in a write, or in the rows a judging
    session makes, such as an environment's on first use). A database error (damaged file, dropped table,
    read-only home, full disk) is a ``DatabaseFault`` (``_faults``). A value its column cannot hold (a date that is
    not a date, stored outside assay) makes SQLAlchemy's result processing raise ValueError or TypeError while rows
    are read: that is one clear RecordTampered. Only errors raised inside SQLAlchemy's own frames are translated; ours propagate unchanged."""
    try:
        yield
    except IntegrityError as exc:  # a unique key another writer took first (a race on PostgreSQL)
        raise _conflict(exc) from None
    except DBAPIError as exc:
        raise database_fault(exc) from None
    except (ValueError, TypeError) as exc:
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        if not any("sqlalchemy" in frame.filename for frame in frames):
            raise
        raise RecordTampered(f"a registry row holds a value its column cannot hold ({exc}): it was written outside "
                             "assay; nothing was decided (run assay audit verify)") from None


class Registry:
    """The registry: ``engine`` (SQLAlchemy) plus ``blobs`` (evidence) and the acting ``actor``."""

    def __init__(self, engine: Engine, blobs: BlobStore, actor: str, home: Path, identity: str | None = None
                 ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.actor = actor
        self.home = home
        self.identity = identity  # the credential behind actor on a server (token:ID, oidc:ISSUER#SUBJECT)
        self._checked = False  # the database file passed SQLite's own check (first write of this Registry)

    def acting(self, actor: str, identity: str | None) -> Registry:
        """This registry (engine, store, and the database check already done) with someone else acting: what a
        server makes of its one registry for each authenticated call."""
        other = Registry(self.engine, self.blobs, actor, self.home, identity)
        other._checked = self._checked
        return other

    @classmethod
    def open(cls, settings: Settings) -> Registry:
        """Open (and if needed create and migrate) the registry the settings point at."""
        return cls(open_engine(settings.database_url), open_store(settings.evidence_dir, settings.evidence_url), settings.actor,
                   settings.home)

    def log(self, session: Session, kind: str, payload: dict, *, sign: bool = True) -> int:
        """Append an audit entry in this transaction and, by default, sign a checkpoint covering it. The rows
        written since the previous entry are sealed by this one (``_seal``): their digests go into the payload
        as ``records`` (each row names the entry), and the evidence blobs they cite, with any the payload names
        itself, as ``blobs``."""
        from assay.registry import _auditlog as auditlog

        records, blobs, rows = seal.take(session)
        blobs = sorted({*blobs, *payload.get("blobs", ())})
        index = auditlog.append(session, kind, self.actor, {**payload, **({"records": records} if records else {}),
                                                             **({"blobs": blobs} if blobs else {}),
                                                             **({"credential": self.identity} if self.identity else {})})
        seal.bind(session, rows, index)
        if sign:
            auditlog.checkpoint(session, self.home, self.actor)
        return index

    def entries(self, session: Session, *kinds: str) -> list[dict]:
        """Every audit entry of ``kinds`` (oldest first, parsed), each proven to be in the signed log."""
        from assay.registry._auditread import entries_of_kind

        return entries_of_kind(session, self.home, *kinds)

    def entries_from(self, session: Session, start: int, kinds: Iterable[str], limit: int = 500
                     ) -> tuple[list[dict], int]:
        """Entries of ``kinds`` from index ``start`` on (at most ``limit`` entries read), each proven, and where to
        read next (``_auditread.entries_from``)."""
        from assay.registry._auditread import entries_from

        return entries_from(session, self.home, start, kinds, limit)

    def log_size(self, session: Session) -> int:
        """How many entries the log holds (its head): what a cache of anything replayed from the log is keyed by,
        since every change on the record appends."""
        from assay.registry._schema import AuditStateRow

        return int(session.scalar(select(AuditStateRow.size)) or 0)

    def kind_index(self, session: Session, *kinds: str) -> list[tuple[int, str]]:
        """(index, body) of every entry of ``kinds``, checked complete against the signed counts (not proven)."""
        from assay.registry._auditread import kind_index

        return kind_index(session, self.home, *kinds)

    def signed_counts(self, session: Session) -> dict[str, int] | None:
        """How many entries of each kind and ``kind@ENV`` the newest signed checkpoint counts (a key it does not name
        counts 0; None: a checkpoint from before counts were signed)."""
        from assay.registry._auditread import signed_counts

        return signed_counts(session, self.home)

    def unsealed(self, session: Session, rows: Iterable[object], consult: Iterable[int] = ()) -> list[str]:
        """Why the rows a gate is about to judge cannot be trusted (``_seal.unsealed``)."""
        from assay.registry._auditread import unsealed

        return unsealed(session, self.home, rows, consult)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any error. Writers run one at a time: on
        SQLite the transaction begins IMMEDIATE, on PostgreSQL it first locks the log head, so everything a write
        reads (rows, entries, checkpoints) is what the previous writer left and nobody commits under it; a lost
        unique-key race is WriteConflict (exit 2)."""
        with _readable_rows(), Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                if not self._checked:
                    self._refuse_damage(session)
                if self.engine.dialect.name == "postgresql":
                    from assay.registry import _auditlog as auditlog

                    auditlog.lock_head(session)
                yield session
            from assay.registry import _auditlog as auditlog  # loaded already by the entry this write appended

            auditlog.publish(session)  # committed: the witness may see its checkpoint now

    def _refuse_damage(self, session: Session) -> None:
        """Refuse to write into a damaged database file (``database_damage``): checked once per Registry."""
        damage = database_damage(session.connection())
        if damage is not None:
            raise DatabaseFault(f"the registry database is damaged (SQLite's check: {damage}): restore it from a "
                                "backup; nothing was changed")
        self._checked = True

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for judging before a write (its transaction takes the write lock on SQLite, like ``write``;
        on PostgreSQL it is REPEATABLE READ, so everything judged comes from one state however many deployments
        commit meanwhile); roll it back to leave nothing behind."""
        engine = self.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        with _readable_rows(), Session(engine) as session:
            yield session

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session on one consistent view of the registry: every statement sees the same committed
        state however many writers commit meanwhile (SQLite: a deferred transaction in WAL mode, which never waits
        for a writer; PostgreSQL: REPEATABLE READ, whose default READ COMMITTED would let a long read such as
        ``audit verify`` see entries newer than the checkpoints it read and cry tampering)."""
        options: dict[str, object] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with _readable_rows(), Session(self.engine.execution_options(**options)) as session:
            try:
                yield session
            finally:
                session.rollback()

    # -- models -------------------------------------------------------------------------------------------
    def lock_model(self, session: Session, name: str, attrs: dict[str, str | None]) -> ModelRow:
        """The model row, created with ``attrs`` if new, locked for the rest of the transaction. An existing model
        keeps its attributes: one given here that differs is refused (``set_model_metadata`` changes them, on
        the record), so an intake can never rewrite who owns a model or how risky it is."""
        values = {"name": name, "created_by": self.actor, "created_at": now(),
                  **{k: v for k, v in attrs.items() if v is not None}}
        check_values("models", values, ModelRow.__table__.columns)
        created = insert_or_ignore(session.connection(), ModelRow, values, "name")
        row = session.scalars(select(ModelRow).where(ModelRow.name == name).with_for_update()).one()
        if created:  # a Core insert: the flush hook does not see it
            seal.touch(session, row)
        changed = [k for k, v in attrs.items() if v is not None and getattr(row, k) != v]
        if changed:
            flags = " ".join(f"--{k.replace('_', '-')} {attrs[k]!r}" for k in changed)
            stored = ", ".join(f"{k.replace('_', ' ')} {getattr(row, k)!r}" for k in changed)
            raise UsageError(f"{name} already has {stored}; intake does not change a model's attributes "
                             f"(run: assay model set {name} {flags})")
        return row

    # -- versions -----------------------------------------------------------------------------------------
    @staticmethod
    def find_version(session: Session, ref: str) -> tuple[Row, Row]:
        """Resolve a model version reference (``refs.find_version``): the model's and the version's columns."""
        return refs.find_version(session, ref)

    @staticmethod
    def describe(session: Session, ref: str) -> VersionInfo:
        """``show`` of ``NAME@N`` inside this transaction (it sees rows not yet committed)."""
        from assay.registry._reader import Reader

        return Reader(Sql.of(session)).show(ref)

    def evidence_rows(self, session: Session, kind: str, subject_id: int, items: list[tuple[str, str, bytes, str]]
                      ) -> None:
        """Store blobs and cite them: items are (evidence kind, name, bytes, media type)."""
        for ev_kind, name, data, media in items:
            blob = self.blobs.put(data)
            session.add(EvidenceRow(subject_kind=kind, subject_id=subject_id, kind=ev_kind, name=name,
                                    digest=blob.digest, media_type=media, size=blob.size,
                                    created_by=self.actor, created_at=now()))

    # -- datasets and artifacts ---------------------------------------------------------------------------
    @staticmethod
    def find_dataset(session: Session, ref: str) -> Row:
        """Resolve a dataset reference (``refs.find_dataset``): the dataset's columns."""
        return refs.find_dataset(session, ref)

    @staticmethod
    def dataset_info(row: DatasetRow, created: bool = True) -> DatasetInfo:
        """The value type for a dataset row."""
        return DatasetInfo(row.name, row.number, row.identity, row.file_count, row.total_bytes, row.source_url,
                           row.license, row.consent, row.retention_days, row.pii, row.created_by, row.created_at,
                           created)

    @staticmethod
    def artifact_info(row: ArtifactRow, created: bool = True) -> ArtifactInfo:
        """The value type for an artifact row."""
        return ArtifactInfo(row.name, row.number, row.kind, row.digest, row.media_type, row.size, row.created_by,
                            row.created_at, created)

    def lock_name(self, session: Session, namespace: str, name: str) -> None:
        """Serialize writers of one name for this transaction (SQLite's BEGIN IMMEDIATE already does)."""
        if self.engine.dialect.name == "postgresql":  # by hand: SQLAlchemy has no construct for advisory locks
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{namespace}:{name}"})

    @staticmethod
    def next_number(session: Session, column, *where) -> int:  # noqa: ANN001
        """max(number) + 1 under the current transaction's lock."""
        return (session.scalar(select(func.max(column)).where(*where)) or 0) + 1
