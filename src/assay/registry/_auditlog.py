"""Writing the audit log in the registry database: append in the caller's transaction, check and sign checkpoints,
publish them to a witness, rotate the signing key (reading it back: ``_auditread``).

Appending happens inside the same transaction as the state change it records, so a change without its log
entry (or the reverse) cannot be committed. The log head (size and right-edge hashes) is one locked row:
appends are serialized and never re-read old entries.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.audit import (
    KEY_ROTATED,
    LOG_KEY_NAME,
    LOG_ORIGIN,
    AuditError,
    NoteSigner,
    NoteVerifier,
    TreeBuilder,
    consistency_proof,
    entry_body,
    generate_key,
    leaf_hash,
    load_private_key,
    newest_witnessed,
    parse_checkpoint,
    public_key_pem,
    publish_checkpoint,
    root_from_leaf_hashes,
    save_private_key,
    sign_checkpoint,
    verify_consistency,
)
from assay.errors import AssayError, InputError
from assay.registry._interface import NotFound
from assay.registry._logkey import key_path, log_signer, witness_folder
from assay.registry._schema import AuditEntryRow, AuditNodeRow
from assay.registry._sql import Sql

# An append and a checkpoint run their fixed statements as text SQL on the DB-API connection of the session's own
# transaction (``Sql.of``), not as SQLAlchemy statements: SQLAlchemy's per-statement work was most of an append's
# cost (~2,000 appends/s through Core against ~5,000/s here, see ``_sql.py``), and every change appends one.
_SELECT_HEAD = "SELECT size, peaks FROM audit_state WHERE id = 1"
_CREATE_HEAD = "INSERT INTO audit_state (id, size, peaks) VALUES (1, 0, '[]') ON CONFLICT (id) DO NOTHING"
_UPDATE_HEAD = "UPDATE audit_state SET size = :size, peaks = :peaks WHERE id = 1"
_INSERT_ENTRY = "INSERT INTO audit_entries (idx, kind, body, leaf_hash) VALUES (:idx, :kind, :body, :leaf_hash)"
_INSERT_NODE = "INSERT INTO audit_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"
_NEWEST_CHECKPOINT = "SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC, id DESC LIMIT 1"
_INSERT_CHECKPOINT = "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (:size, :root, :note, :at)"
_HEAD_KEY = "assay.audit_head"  # session.info: the head this transaction wrote last, so a checkpoint need not read it
_START_KEY = "assay.audit_start"  # session.info: the head as this transaction first read it
PUBLISH_KEY = "assay.publish"  # session.info: (size, note) this transaction signed, for the witness once committed
_SIGNED_HEAD = "assay.signed_head"  # session.info: (transaction, (note, ours), SignedHead) checked by signed_root
_APPENDED = "assay.appended"  # session.info: (transaction, Counter of count keys appended since the last checkpoint)
COUNTS_LINE = "assay-counts "
"""The checkpoint extension line that signs how many entries of each kind (and kind@environment) the log holds."""


class LogTampered(AssayError):
    """The log's head is not what its last signed checkpoint says: entries were written, removed or changed
    outside assay. Nothing is written (exit 1) until the log is restored."""

    http_status = 409

    exit_code = 1


def _transaction(session: Session) -> Any:
    return session.get_nested_transaction() or session.get_transaction()


def _written_here(session: Session) -> tuple[Any, int, list[bytes]] | None:
    """(transaction, size, peaks) of the head this transaction last wrote, or None when it appended nothing."""
    written = session.info.get(_HEAD_KEY)
    return written if written is not None and written[0] is _transaction(session) else None


def _head(session: Session, sql: Sql) -> tuple[int, list[bytes]]:
    """The log head (size, peaks), locked until the transaction ends; created empty on first use."""
    written = _written_here(session)
    if written is not None:  # locked and written by this transaction
        return written[1], written[2]
    # The one difference between the databases: PostgreSQL locks the row; on SQLite the write transaction's
    # BEGIN IMMEDIATE already holds the database's write lock (and SQLite has no FOR UPDATE).
    select_head = _SELECT_HEAD + (" FOR UPDATE" if sql.dialect == "postgresql" else "")
    row = sql.row(select_head)
    if row is None:
        sql.execute(_CREATE_HEAD)
        row = sql.row(select_head)
        assert row is not None  # just created, or created by another transaction first
    peaks = [bytes.fromhex(p) for p in row.peaks]
    session.info[_START_KEY] = (_transaction(session), row.size, peaks)
    return row.size, peaks


def lock_head(session: Session) -> None:
    """Lock the log head for the rest of the transaction (created empty on first use): writers serialize here."""
    _head(session, Sql.of(session))


def count_keys(kind: str, payload: Any) -> list[str]:
    """What an entry adds to the signed counts: its kind, and ``kind@ENV`` when its payload names an environment."""
    env = payload.get("environment") if isinstance(payload, dict) else None
    return [kind, f"{kind}@{env}"] if isinstance(env, str) else [kind]


def signed_counts(note: str) -> dict[str, int] | None:
    """The counts a checkpoint note signs (its ``assay-counts`` line), or None for a checkpoint without one.
    ``note`` must already be verified: this only reads its text."""
    for line in note.split("\n\n", 1)[0].split("\n")[3:]:
        if line.startswith(COUNTS_LINE):
            try:
                counts = json.loads(line[len(COUNTS_LINE):])
            except ValueError:
                return None
            if isinstance(counts, dict) and all(isinstance(v, int) for v in counts.values()):
                return {str(k): int(v) for k, v in counts.items()}
    return None


def _counts_line(session: Session, sql: Sql, last: Any) -> str:
    """The counts line for a checkpoint of the head now: the newest checkpoint's counts plus what this
    transaction appended since (a log signed before counts existed is counted from its entries, once)."""
    counts = Counter[str]()
    if last is not None:
        cached = _LAST_COUNTS.get(last.note)
        signed = cached if cached is not None else signed_counts(last.note)
        if signed is not None:
            counts.update(signed)
        else:
            for body in session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.idx < last.size)):
                entry = json.loads(body)
                counts.update(count_keys(entry.get("kind"), entry.get("payload")))
    appended = session.info.get(_APPENDED)
    if appended is not None and appended[0] is _transaction(session):
        counts.update(appended[1])
    return COUNTS_LINE + json.dumps(dict(sorted(counts.items())), separators=(",", ":"), ensure_ascii=False)


def _remember_counts(note: str, line: str) -> None:
    """Keep the counts of the note just signed, so the next checkpoint does not parse them back (one note)."""
    _LAST_COUNTS.clear()
    _LAST_COUNTS[note] = json.loads(line[len(COUNTS_LINE):])


def append(session: Session, kind: str, actor: str, payload: dict[str, Any], *, time: datetime | None = None) -> int:
    """Add one entry in the caller's transaction; returns its index."""
    sql = Sql.of(session)
    size, peaks = _head(session, sql)
    builder = TreeBuilder.from_state(size, peaks)
    body = entry_body(size, kind, actor, (time or datetime.now(UTC)).isoformat(), payload)
    leaf = leaf_hash(body.encode("utf-8"))
    completed: list[tuple[int, int, bytes]] = []
    index = builder.append(leaf, completed)
    sql.execute(_INSERT_ENTRY, idx=index, kind=kind, body=body, leaf_hash=leaf.hex())
    if completed:
        sql.execute_many(_INSERT_NODE, [{"level": lv, "idx": i, "hash": h.hex()} for lv, i, h in completed])
    new_size, new_peaks = builder.state()
    sql.execute(_UPDATE_HEAD, size=new_size, peaks=json.dumps([p.hex() for p in new_peaks]))
    session.info[_HEAD_KEY] = (_transaction(session), new_size, list(new_peaks))
    appended = session.info.get(_APPENDED)
    if appended is None or appended[0] is not _transaction(session):
        appended = session.info[_APPENDED] = (_transaction(session), Counter[str]())
    appended[1].update(count_keys(kind, payload))
    return index


_SIGNERS: dict[Path, NoteSigner] = {}  # by key file
_LAST_COUNTS: dict[str, dict[str, int]] = {}  # the newest note this process signed -> the counts it signs
_TRUSTED_NOTE: dict[int, tuple[str, int, str]] = {}  # by signer (kept in _SIGNERS): the newest (note, size, root)
# it made or verified; a row whose note, size and root all match it needs no second signature check


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A stored checkpoint: tree size, root (hex) and the signed note."""

    size: int
    root: str
    note: str


def checkpoint(session: Session, home: Path, actor: str) -> SignedCheckpoint:
    """Sign the current log head (logging the key's creation first, when this is the first checkpoint)."""
    sql = Sql.of(session)
    _head(session, sql)  # lock the head first: the newest checkpoint is then read as of this transaction
    last = sql.row(_NEWEST_CHECKPOINT)
    path = key_path(home)
    signer = _SIGNERS.get(path) or _SIGNERS.setdefault(path, log_signer(home, signed_before=last is not None))
    _check_start(session, sql, last, signer)
    if last is None:  # the first checkpoint publishes the key
        append(session, "log-key-created", actor, {"verifier_key": signer.verifier().key_string(),
                                                   "public_key_pem": public_key_pem(signer.private_key).decode()})
    folder = witness_folder()
    if folder is not None:
        _, start, peaks = session.info[_START_KEY]
        _check_witness(session, folder, _witness_verifiers(session, signer), start,
                       TreeBuilder.from_state(start, peaks).root())
    size, peaks = _head(session, sql)
    if last is not None and last.size == size:
        session.info[PUBLISH_KEY] = (last.size, last.note)
        return SignedCheckpoint(last.size, last.root, last.note)
    root = TreeBuilder.from_state(size, peaks).root()
    counts = _counts_line(session, sql, last)
    made = SignedCheckpoint(size, root.hex(), sign_checkpoint(LOG_ORIGIN, size, root, signer, (counts,)))
    session.info[PUBLISH_KEY] = (made.size, made.note)
    sql.execute(_INSERT_CHECKPOINT, size=made.size, root=made.root, note=made.note,
                at=sql.time_param(datetime.now(UTC)))
    session.info[_START_KEY] = (_transaction(session), size, list(peaks))  # the next checkpoint starts from here
    session.info[_APPENDED] = (_transaction(session), Counter[str]())
    _TRUSTED_NOTE[id(signer)] = (made.note, made.size, made.root)
    _remember_counts(made.note, counts)
    return made


def rotate_key(session: Session, home: Path, actor: str) -> dict[str, Any]:
    """Hand the log to a new signing key, in the caller's transaction: the head is checked and signed with the old
    key, a ``log-key-rotated`` entry names both keys, and the head that includes it is signed with both, so a
    verifier holding either key reaches the other (``audit.keyring``). The new private key is written beside the
    old one as ``*.next.pem``; ``finish_rotation`` puts it in place once the transaction has committed."""
    checkpoint(session, home, actor)
    path = key_path(home)
    old = _SIGNERS[path]
    upcoming = path.with_name(path.stem + ".next.pem")
    if upcoming.exists():
        raise InputError(f"{upcoming} exists: an earlier rotation did not finish; move it into place as {path} if "
                         "the log's newest checkpoint verifies with it, else remove it")
    new_key = generate_key()
    save_private_key(upcoming, new_key)
    new = NoteSigner(LOG_KEY_NAME, new_key)
    doc = {"from": old.verifier().key_string(), "to": new.verifier().key_string(),
           "public_key_pem": public_key_pem(new_key).decode()}
    index = append(session, KEY_ROTATED, actor, doc)
    sql = Sql.of(session)
    size, peaks = _head(session, sql)
    root = TreeBuilder.from_state(size, peaks).root()
    at = sql.time_param(datetime.now(UTC))
    counts = _counts_line(session, sql, sql.row(_NEWEST_CHECKPOINT))
    for signer in (old, new):  # the old key vouches for the new one; the new one signs from here on
        note = sign_checkpoint(LOG_ORIGIN, size, root, signer, (counts,))
        sql.execute(_INSERT_CHECKPOINT, size=size, root=root.hex(), note=note, at=at)
    session.info[_START_KEY] = (_transaction(session), size, list(peaks))
    session.info[_APPENDED] = (_transaction(session), Counter())
    session.info[PUBLISH_KEY] = (size, note)
    return {"entry": index, **doc}


def finish_rotation(home: Path) -> Path:
    """After the rotation committed: keep the old public key as ``*.retired-<hash>.pub.pem`` (for auditors of old
    checkpoints) and put the new key in place. Returns where the retired public key is."""
    path = key_path(home)
    old = _SIGNERS.pop(path, None) or log_signer(home, signed_before=True)
    _TRUSTED_NOTE.pop(id(old), None)
    retired = path.with_name(f"{path.stem}.retired-{old.verifier().key_hash:08x}.pub.pem")
    retired.write_bytes(public_key_pem(old.private_key))
    upcoming = path.with_name(path.stem + ".next.pem")
    os.replace(upcoming, path)
    path.with_name(path.stem + ".pub.pem").write_bytes(public_key_pem(load_private_key(path)))
    return retired


def _witness_verifiers(session: Session, signer: NoteSigner) -> list[NoteVerifier]:
    """The keys the witness's notes may be signed with: the log key and every key it was rotated from. Read as
    stored, since they only widen which notes of the witness (which the database's owner cannot write) verify,
    and a key left out makes the check fail, not pass."""
    return [signer.verifier(), *(NoteVerifier.from_key_string(p["from"]) for _, p in rotations(session))]


def rotations(session: Session) -> list[tuple[int, dict[str, Any]]]:
    """(index, payload) of every ``log-key-rotated`` entry, oldest first, as stored (``audit.keyring`` decides which
    count, from the checkpoints that cover them)."""
    return [(e["index"], e["payload"]) for e in (json.loads(b) for b in session.scalars(
        select(AuditEntryRow.body).where(AuditEntryRow.kind == KEY_ROTATED).order_by(AuditEntryRow.idx)))]


def _check_witness(session: Session, folder: Path, verifier: list[NoteVerifier], size: int, head_root: bytes
                   ) -> None:
    """The log of ``size`` entries with root ``head_root`` must extend the newest checkpoint the witness holds: at
    least as many entries, and a consistency proof (from the stored tree nodes) from the witnessed root. A tail cut
    off with its checkpoints is refused before anything is written on top of it, or decided on."""
    newest = newest_witnessed(folder)
    if newest is None:
        return
    try:
        seen = parse_checkpoint(newest[1], verifier)
    except AuditError as exc:
        raise InputError(f"the witness {folder} holds a checkpoint for size {newest[0]} that does not verify with "
                         f"the log key ({exc}): fix the witness first") from None
    problem = None
    if seen.size > size:
        problem = f"the witness saw {seen.size} entries, the log holds {size}: entries were removed"
    elif seen.size:
        try:
            hashes = consistency_proof(seen.size, size, _node_source(session), available=size)
            verify_consistency(seen.size, size, hashes, seen.root, head_root)
        except (AuditError, NotFound):
            problem = f"the log does not extend the checkpoint at size {seen.size} the witness holds: it was rewritten"
    if problem:
        raise LogTampered(f"the audit log was changed outside assay: {problem}; nothing was done "
                          "(run assay audit verify --witness)")


def publish(session: Session) -> None:
    """After its transaction committed: publish the checkpoint it signed to the witness (``ASSAY_WITNESS``)."""
    folder = witness_folder()
    made = session.info.pop(PUBLISH_KEY, None)
    if folder is not None and made is not None:
        publish_checkpoint(folder, *made)


def _check_start(session: Session, sql: Sql, last: Any, signer: NoteSigner) -> None:
    """Before signing, the log as this transaction found it must be exactly what the newest checkpoint signed:
    same size, same root, a valid signature. Otherwise an entry appended (or a tail removed) outside assay would be
    blessed by the next legitimate checkpoint. The signature is checked once per process and checkpoint row (a row
    this process signed or verified, with the same note, size and root, is not checked again)."""
    _, size, peaks = session.info[_START_KEY]  # set by _head, which checkpoint() called first
    if last is None:
        if size:
            raise LogTampered(f"the audit log holds {size} entries but no signed checkpoint: they were written "
                              "outside assay; nothing was written (run assay audit verify)")
        return
    problem = None
    if size != last.size:
        problem = (f"entries {last.size}..{size - 1} follow the last signed checkpoint without one of their own"
                   if size > last.size else f"the log holds {size} entries, fewer than the {last.size} signed")
    elif TreeBuilder.from_state(size, peaks).root().hex() != last.root:
        problem = "its head does not hash to the root of the last signed checkpoint"
    elif _TRUSTED_NOTE.get(id(signer)) != (last.note, last.size, last.root):  # signed or checked here before
        try:
            signed = parse_checkpoint(last.note, signer.verifier())
        except AuditError:
            signed = None
        if signed is None or signed.size != last.size or signed.root.hex() != last.root:
            problem = "the last checkpoint's signature does not verify with the log key"
        else:
            _TRUSTED_NOTE[id(signer)] = (last.note, last.size, last.root)
    if problem:
        raise LogTampered(f"the audit log was changed outside assay: {problem}; nothing was written "
                          "(run assay audit verify)")


def _last_index(sql: Sql) -> int | None:
    """The index of the newest entry stored, or None for an empty log."""
    row = sql.row("SELECT max(idx) AS top FROM audit_entries")
    return None if row is None or row.top is None else int(row.top)


@dataclass(frozen=True, slots=True)
class SignedHead:
    """The newest signed checkpoint, verified: tree size, root, and the entry counts it signs (None: a checkpoint
    made before counts were signed)."""

    size: int
    root: bytes
    counts: dict[str, int] | None


def signed_root(session: Session, home: Path) -> SignedHead:
    """The newest signed checkpoint, its signature checked with the log key (once per process and checkpoint row),
    for a decision to rest on. As every change signs a checkpoint, the log must end exactly there: a stored head or
    an entry beyond it (newer checkpoints deleted, say) is LogTampered, as is, with ``ASSAY_WITNESS`` set, a log
    that does not extend the newest witnessed checkpoint. A transaction that appended entries itself is checked
    from where it started. A log with no checkpoint is empty."""
    sql = Sql.of(session)
    last = sql.row(_NEWEST_CHECKPOINT)
    ours = _written_here(session) is not None
    if last is None:
        if not ours and _last_index(sql) is not None:
            raise LogTampered("the audit log was changed outside assay: it holds entries but no signed checkpoint "
                              "(run assay audit verify)")
        return SignedHead(0, b"", {})
    cached = session.info.get(_SIGNED_HEAD)
    if cached is not None and cached[0] is _transaction(session) and cached[1] == (last.note, ours):
        return cached[2]  # checked already in this transaction, and nothing was signed since
    path = key_path(home)
    signer = _SIGNERS.get(path) or _SIGNERS.setdefault(path, log_signer(home, signed_before=True))
    if _TRUSTED_NOTE.get(id(signer)) != (last.note, last.size, last.root):
        try:
            signed = parse_checkpoint(last.note, signer.verifier())
        except AuditError:
            signed = None
        if signed is None or signed.size != last.size or signed.root.hex() != last.root:
            raise LogTampered("the audit log was changed outside assay: its newest checkpoint's signature does not "
                              "verify with the log key (run assay audit verify)")
        _TRUSTED_NOTE[id(signer)] = (last.note, last.size, last.root)
    if not ours:
        head = sql.row(_SELECT_HEAD)
        top = _last_index(sql)
        peaks = [bytes.fromhex(p) for p in (json.loads(head.peaks) if isinstance(head.peaks, str) else head.peaks)] \
            if head is not None else []
        if head is None or head.size != last.size or top != last.size - 1 \
                or TreeBuilder.from_state(head.size, peaks).root().hex() != last.root:
            raise LogTampered("the audit log was changed outside assay: it does not end at its newest signed "
                              "checkpoint (run assay audit verify)")
        folder = witness_folder()
        if folder is not None:
            _check_witness(session, folder, _witness_verifiers(session, signer), int(last.size),
                           bytes.fromhex(last.root))
    made = SignedHead(int(last.size), bytes.fromhex(last.root), signed_counts(last.note))
    session.info[_SIGNED_HEAD] = (_transaction(session), (last.note, ours), made)
    return made


def _node_source(session: Session) -> Any:
    """Perfect-subtree hashes from the stored nodes (one indexed read each); computed from the leaves where a
    node is not stored (a log filled in bulk)."""
    def node(start: int, end: int) -> bytes:
        level = (end - start).bit_length() - 1
        if level == 0:
            stored = session.scalar(select(AuditEntryRow.leaf_hash).where(AuditEntryRow.idx == start))
        else:
            stored = session.scalar(select(AuditNodeRow.hash).where(AuditNodeRow.level == level,
                                                                    AuditNodeRow.idx == start >> level))
        if stored is not None:
            return bytes.fromhex(stored)
        leaves = [bytes.fromhex(h) for h in session.scalars(
            select(AuditEntryRow.leaf_hash).where(AuditEntryRow.idx >= start, AuditEntryRow.idx < end)
            .order_by(AuditEntryRow.idx))]
        if len(leaves) != end - start:
            raise NotFound(f"audit entries {start}..{end - 1} are incomplete: run `assay audit verify`")
        return root_from_leaf_hashes(leaves)
    return node
