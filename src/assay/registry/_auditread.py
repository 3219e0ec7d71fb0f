"""Reading the audit log in the registry database: proven entries for the gates, the full verification (with
the sealed rows reconciled), inclusion proofs and the offline export.

Every read here either proves what it returns against a signed checkpoint (``verified_entries``) or recomputes the
whole log (``verify``); nothing is taken from the stored rows on trust.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from assay.audit import (
    AuditError,
    InclusionProof,
    LogProblem,
    LogReport,
    MemoryTree,
    NoteVerifier,
    TreeBuilder,
    cited_blobs,
    inclusion_proof,
    keyring,
    leaf_hash,
    load_private_key,
    public_key_pem,
    verify_inclusion,
    verify_log,
)
from assay.errors import InputError
from assay.registry import _seal as seal
from assay.registry._auditlog import (
    _START_KEY,
    LogTampered,
    _node_source,
    _written_here,
    rotations,
    signed_root,
)
from assay.registry._interface import MAX_NUMBER, NotFound
from assay.registry._logkey import key_path, log_verifier
from assay.registry._schema import AuditEntryRow, AuditNodeRow, AuditStateRow, CheckpointRow

FETCH_BATCH = 20_000
"""Entries read per round trip while verifying."""


_PROVEN = "assay.proven"  # session.info: index -> parsed body of the entries proven in this session (immutable)


def verified_entries(session: Session, home: Path, indexes: Iterable[int]) -> tuple[dict[int, dict[str, Any]],
                                                                                      list[str]]:
    """The parsed bodies of the entries ``indexes``, each proven to be in the newest signed checkpoint (an inclusion
    proof from the stored tree nodes to the signed root, so neither an edited entry nor an edited node passes).

    Returns (bodies by index, problems): an entry that is missing, not yet covered by a signed checkpoint, or
    whose proof does not reach the signed root is a problem, never a body. The tree nodes every proof needs are
    read in two statements (the proofs are walked once to learn which), and an entry proven once is not proven
    again in the same session: a gate reading twenty rows costs a handful of queries, not hundreds."""
    proven: dict[int, dict[str, Any]] = session.info.setdefault(_PROVEN, {})
    wanted = sorted(set(indexes) - set(proven))
    bodies = {i: proven[i] for i in set(indexes) if i in proven}
    if not wanted:
        return bodies, []
    head = signed_root(session, home)
    size, root = head.size, head.root
    rows = {int(r.idx): (r.kind, r.body) for r in session.execute(
        select(AuditEntryRow.idx, AuditEntryRow.kind, AuditEntryRow.body).where(AuditEntryRow.idx.in_(wanted)))}
    written = _written_here(session)
    ours = range(session.info[_START_KEY][1], written[1]) if written is not None else range(0)
    problems: list[str] = []
    to_prove = []
    for index in wanted:
        if index not in rows:
            problems.append(f"log entry {index} is missing")
        elif index in ours:  # appended by this very transaction: trusted as written (and not cached)
            bodies[index] = json.loads(rows[index][1])
        elif index >= size:
            problems.append(f"log entry {index} is not covered by a signed checkpoint")
        else:
            to_prove.append(index)
    node = _prefetched_nodes(session, to_prove, size)
    for index in to_prove:
        kind, body = rows[index]
        try:
            hashes = inclusion_proof(index, size, node, available=size)
            verify_inclusion(leaf_hash(body.encode("utf-8")), index, size, hashes, root)
            parsed = json.loads(body)
        except (AuditError, NotFound, ValueError):
            problems.append(f"log entry {index} is not the one the signed log holds (it or the stored tree nodes "
                            "were changed)")
            continue
        if not isinstance(parsed, dict) or parsed.get("kind") != kind or parsed.get("index") != index:
            problems.append(f"log entry {index} is filed under another kind or index than its body says")
            continue
        bodies[index] = proven[index] = parsed
    return bodies, problems


def _prefetched_nodes(session: Session, indexes: list[int], size: int) -> Any:
    """A node source holding every perfect subtree the inclusion proofs of ``indexes`` need, read in one statement
    per table (a node not stored, in a log filled in bulk, is computed from the leaves as ``_node_source`` does)."""
    needed: set[tuple[int, int]] = set()

    def record(start: int, end: int) -> bytes:
        needed.add((start, end))
        return bytes(32)

    for index in indexes:
        inclusion_proof(index, size, record, available=size)
    leaves = [s for s, e in needed if e - s == 1]
    inner = [((e - s).bit_length() - 1, s >> ((e - s).bit_length() - 1)) for s, e in needed if e - s > 1]
    memo: dict[tuple[int, int], bytes] = {}
    if leaves:
        for idx, digest in session.execute(select(AuditEntryRow.idx, AuditEntryRow.leaf_hash)
                                           .where(AuditEntryRow.idx.in_(leaves))):
            memo[int(idx), int(idx) + 1] = bytes.fromhex(digest)
    if inner:
        for level, idx, digest in session.execute(select(AuditNodeRow.level, AuditNodeRow.idx, AuditNodeRow.hash)
                                                  .where(tuple_(AuditNodeRow.level, AuditNodeRow.idx).in_(inner))):
            memo[int(idx) << int(level), (int(idx) + 1) << int(level)] = bytes.fromhex(digest)
    stored = _node_source(session)

    def node(start: int, end: int) -> bytes:
        if (start, end) not in memo:
            memo[start, end] = stored(start, end)
        return memo[start, end]

    return node


def filed_under(body: str, kind: object) -> bool:
    """Whether the canonical entry ``body`` is of ``kind`` (its ``kind`` column, any type a row can hold). The first
    ``"kind":`` of a canonical body is its top-level key (an actor string before it cannot hold an unescaped
    quote), so this needs no parse."""
    at = body.find('"kind":')
    return isinstance(kind, str) and at >= 0 and \
        body.startswith(f'"kind":{json.dumps(kind, ensure_ascii=False)},', at)


def kind_index(session: Session, home: Path, *kinds: str) -> list[tuple[int, str]]:
    """(index, body) of every entry filed under ``kinds``, oldest first, read through the index on ``kind`` and
    checked against the counts the newest signed checkpoint signs: an entry hidden by editing its ``kind`` column
    makes a count short, one relabelled into these kinds has a body that says otherwise; either is LogTampered.
    The bodies are not proven here (``entries_of_kind`` proves them)."""
    head = signed_root(session, home)
    rows = [(int(i), str(b), k) for i, k, b in session.execute(
        select(AuditEntryRow.idx, AuditEntryRow.kind, AuditEntryRow.body).where(AuditEntryRow.kind.in_(kinds))
        .order_by(AuditEntryRow.idx))]
    problem = None
    found: dict[str, int] = {}
    for index, body, kind in rows:
        if not filed_under(body, kind):
            problem = f"entry {index} is filed under kind {kind!r}, which its body does not say"
            break
        if index < head.size:
            found[kind] = found.get(kind, 0) + 1
    if problem is None and head.counts is not None:
        short = [k for k in kinds if found.get(k, 0) != head.counts.get(k, 0)]
        if short:
            problem = (f"the log holds {found.get(short[0], 0)} {short[0]!r} entries where its newest signed "
                       f"checkpoint counts {head.counts.get(short[0], 0)}")
    if problem:
        raise LogTampered(f"the audit log was changed outside assay: {problem} (run assay audit verify)")
    return [(index, body) for index, body, _ in rows]


def entries_of_kind(session: Session, home: Path, *kinds: str) -> list[dict[str, Any]]:
    """Every entry of ``kinds`` (oldest first), complete (``kind_index``) and each proven to be in the signed log;
    LogTampered otherwise."""
    bodies, problems = verified_entries(session, home, [i for i, _ in kind_index(session, home, *kinds)])
    if problems:
        raise LogTampered(f"the audit log was changed outside assay: {problems[0]} (run assay audit verify)")
    return [bodies[i] for i in sorted(bodies)]


def entries_from(session: Session, home: Path, start: int, kinds: Iterable[str], limit: int
                 ) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` entries of ``kinds`` at index ``start`` or later, oldest first, each proven to be in the signed
    log (an entry that is not is left out), and the index to read from next time."""
    from sqlalchemy import select

    from assay.registry._schema import AuditEntryRow

    rows = session.execute(select(AuditEntryRow.idx, AuditEntryRow.kind).where(AuditEntryRow.idx >= start)
                           .order_by(AuditEntryRow.idx).limit(limit)).all()
    wanted = set(kinds)
    chosen = [idx for idx, kind in rows if kind in wanted]
    bodies, _ = verified_entries(session, home, chosen)
    following = rows[-1][0] + 1 if rows else start
    return [{"index": i, **bodies[i]} for i in chosen if i in bodies], following


def signed_counts(session: Session, home: Path) -> dict[str, int] | None:
    """How many entries of each kind, and ``kind@ENV``, the newest signed checkpoint counts (a key it does not name
    counts 0); None for a checkpoint made before counts were signed."""
    return signed_root(session, home).counts


def _entries(session: Session, *, with_kind: bool = False) -> Iterator[Any]:
    """Every entry in order as (index, body, leaf) or, ``with_kind``, (index, kind, body, leaf), read in batches
    straight from the driver (a million rows through the ORM is slow)."""
    conn = session.connection()
    columns = (AuditEntryRow.idx, *((AuditEntryRow.kind,) if with_kind else ()), AuditEntryRow.body,
               AuditEntryRow.leaf_hash)
    query = select(*columns).where(AuditEntryRow.idx > bindparam("last")).order_by(AuditEntryRow.idx) \
        .limit(FETCH_BATCH)
    last = -1
    while True:
        rows = conn.execute(query, {"last": last}).fetchall()
        if not rows:
            return
        yield from (tuple(row) for row in rows)
        last = rows[-1].idx


def verify(session: Session, verifier: NoteVerifier, witnessed: Iterable[str] = ()) -> LogReport:
    """Recompute the whole log from the database rows and check it against every signed checkpoint; then replay
    its records against every sealed row (``_seal.Ledger``), so a row inserted, changed, deleted or replayed
    outside assay is named too, and check each entry's ``kind`` column (the index gates read entries through).
    ``witnessed``: signed checkpoints kept outside the database (``--witness``), checked like the stored ones, so a
    tail cut off together with its checkpoints is a checkpoint beyond the entries present."""
    head = session.get(AuditStateRow, 1)
    notes = [*session.scalars(select(CheckpointRow.note).order_by(CheckpointRow.id)), *witnessed]
    state = (head.size, [bytes.fromhex(p) for p in head.peaks]) if head else (0, [])
    nodes = session.execute(select(AuditNodeRow.level, AuditNodeRow.idx, AuditNodeRow.hash)
                            .order_by(AuditNodeRow.level, AuditNodeRow.idx))
    ledger = seal.Ledger()
    misfiled: list[LogProblem] = []
    ring = keyring([verifier], rotations(session), notes)
    report = verify_log(_checked(_entries(session, with_kind=True), ledger, misfiled), notes, ring, head=state,
                        nodes=((int(n.level), int(n.idx), str(n.hash)) for n in nodes))
    records = [LogProblem(kind, message, entry) for kind, message, entry in ledger.reconcile(session)]
    return dataclasses.replace(report, problems=(*_damage(session), *report.problems, *misfiled, *records))


def _damage(session: Session) -> list[LogProblem]:
    """The damage SQLite's own check finds in the database file (``db.database_damage``), as a problem."""
    from assay.registry._db import database_damage

    damage = database_damage(session.connection())
    return [] if damage is None else [LogProblem("damaged-database", f"the database file is damaged (SQLite's "
                                                 f"check: {damage}): restore it from a backup")]


def _checked(rows: Iterator[tuple[int, Any, str, str]], ledger: seal.Ledger, misfiled: list[LogProblem]
             ) -> Iterator[tuple[int, str, str]]:
    """Pass (index, body, leaf) on, feeding each entry's records to ``ledger`` and naming in ``misfiled`` the first
    entry whose ``kind`` column its body does not say (the column gates find entries through, ``filed_under``);
    bodies are parsed only for their records."""
    for index, kind, body, leaf in rows:
        if not filed_under(body, kind):
            if not misfiled:
                misfiled.append(LogProblem("altered-entry", f"entry {index} is filed under kind {kind!r}, which its "
                                           "body does not say: gates reading by kind would miss it", index))
        if '"records":' in body or '"blobs":' in body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None  # verify_log names the entry (its leaf no longer matches)
            if isinstance(parsed, dict):
                ledger.add(index, parsed.get("payload"))
        yield index, body, leaf


def record_problems(session: Session) -> list[tuple[str, str, int | None]]:
    """The entries filed under another kind than their body says, and the sealed rows that disagree with the log
    (``_seal.Ledger.reconcile``): the log read once in order (what ``doctor`` adds to its blob checks)."""
    ledger = seal.Ledger()
    misfiled: list[LogProblem] = []
    for _ in _checked(_entries(session, with_kind=True), ledger, misfiled):
        pass
    return [*((p.kind, p.message, p.entry) for p in [*_damage(session), *misfiled]), *ledger.reconcile(session)]


def proof(session: Session, index: int) -> dict[str, Any]:
    """The inclusion proof of entry ``index`` in the newest checkpoint that covers it (or the current head).

    O(log n) indexed reads: the proof's sibling hashes come from the stored perfect subtrees.
    """
    entry = session.get(AuditEntryRow, index) if 0 <= index <= MAX_NUMBER else None  # a 64-bit column
    if entry is None:
        raise NotFound(f"no audit entry {index}")
    cp = session.scalars(select(CheckpointRow).where(CheckpointRow.size > index)
                         .order_by(CheckpointRow.size.desc()).limit(1)).first()
    head = session.get(AuditStateRow, 1)
    size = cp.size if cp else (head.size if head else 0)
    root = cp.root if cp else (TreeBuilder.from_state(head.size, [bytes.fromhex(p) for p in head.peaks]).root().hex()
                               if head else None)
    hashes = inclusion_proof(index, size, _node_source(session), available=size)
    if root is not None:  # the stored nodes are checked, not trusted: a proof that does not verify is never printed
        try:
            verify_inclusion(leaf_hash(entry.body.encode("utf-8")), index, size, hashes, bytes.fromhex(root))
        except AuditError:
            raise LogTampered(f"the proof of entry {index} does not reach the signed root: the entry or the stored "
                              "tree nodes were changed outside assay (run assay audit verify)") from None
    return {"schema": "assay.audit-proof/1.0", "entry": index, "body": entry.body, "leaf": entry.leaf_hash,
            "proof": InclusionProof(index, size, tuple(hashes)).to_json(), "root": root,
            "checkpoint": cp.note if cp else None}


def export(session: Session, blobs: Any, home: Path, output: Path) -> dict[str, int]:
    """Write the offline bundle: entries, checkpoints, inclusion proofs, cited evidence blobs, public key."""
    verifier = log_verifier(home)
    entries = list(_entries(session))
    notes = list(session.scalars(select(CheckpointRow.note).order_by(CheckpointRow.id)))
    tree = MemoryTree([bytes.fromhex(leaf) for _, _, leaf in entries])
    cited = sorted({d for _, body, _ in entries for d in cited_blobs(body)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("entries.jsonl", "".join(json.dumps({"index": i, "body": b, "leaf": h}) + "\n"
                                             for i, b, h in entries))
        zf.writestr("checkpoints.json", json.dumps(notes, indent=1))
        if entries:
            zf.writestr("proofs.jsonl", "".join(json.dumps(tree.inclusion_proof(i).to_json()) + "\n"
                                                for i, _, _ in entries))
        zf.writestr("audit-log.pub.pem", public_key_pem(load_private_key(key_path(home))))
        zf.writestr("verifier-key.txt", verifier.key_string() + "\n")
        stored = 0
        for digest in cited:
            if blobs.exists(digest):
                zf.writestr(f"evidence/{digest.replace(':', '-')}", blobs.get(digest))
                stored += 1
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, output)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    return {"entries": len(entries), "checkpoints": len(notes), "evidence": stored, "missing": len(cited) - stored}


def unsealed(session: Session, home: Path, rows: Iterable[Any], consult: Iterable[int] = ()) -> list[str]:
    """Why the rows a decision rests on cannot be trusted (empty when they can): a row with no entry, one its
    entry does not hold as it is now, an entry that is not in the signed log, or a row that an entry consulted
    here wrote and that is gone (the release's parts, the version's evidence and lineage go with the entry that
    wrote them). ``consult``: further entries whose rows must all still exist. Rows this transaction wrote itself
    are trusted."""
    checked = {seal.row_key(r): r for r in rows if r is not None and not seal.written_here(session, r)}
    problems = [f"{key} was written outside assay (no audit entry)" for key, r in checked.items()
                if r.entry_idx is None]
    bodies, problems_of_entries = verified_entries(session, home, {*consult, *(r.entry_idx for r in checked.values()
                                                                                if r.entry_idx is not None)})
    problems += problems_of_entries
    for key, row in checked.items():
        body = bodies.get(row.entry_idx)
        if body is None:
            continue
        sealed = seal.sealed_records(body)
        if key not in sealed:
            problems.append(f"{key} is not written by log entry {row.entry_idx}, which it names")
        elif sealed[key] != seal.record_digest(row):
            problems.append(f"{key} was changed outside assay (it no longer matches log entry {row.entry_idx})")
    return problems + _deleted(session, bodies)


def _deleted(session: Session, bodies: dict[int, dict[str, Any]]) -> list[str]:
    """The rows the entries ``bodies`` wrote, among the tables gates read as sets (``_seal.READ_AS_SETS``: rows
    written once, never changed), that are gone or no longer what the entry sealed. A gate finds such rows by
    their parent (``WHERE release_id = ...``), so a row deleted, or moved to another parent, would simply not be
    read: each is loaded by its key here and compared. A row read by its key instead (a release, a version) cannot
    go missing unnoticed; an approval or a waiver deleted only denies."""
    wanted: dict[str, dict[int, tuple[int, Any]]] = {}
    for index, body in bodies.items():
        for key, digest in seal.sealed_records(body).items():
            table, _, ident = key.partition("/")
            if table in seal.READ_AS_SETS and ident.isdigit():
                wanted.setdefault(table, {})[int(ident)] = (index, digest)
    problems = []
    for table, ids in wanted.items():
        cls = seal.SEALED[table]
        found = {row.id: row for row in session.scalars(select(cls).where(cls.id.in_(ids)))}
        for i in sorted(ids):
            index, digest = ids[i]
            if i not in found:
                problems.append(f"{table}/{i} was deleted outside assay (log entry {index} wrote it)")
            elif seal.record_digest(found[i]) != digest:
                problems.append(f"{table}/{i} was changed outside assay (it no longer matches log entry {index})")
    return problems
