"""The audit log as data: entry bodies, their leaves, and the offline verification of a whole log.

An entry's body is canonical JSON that starts with its own index (``{"index":N,...}``), so an entry moved to
another position no longer matches, and the rest is sorted-key JSON. The leaf is RFC 9162's
``SHA-256(0x00 || body)``. ``verify_log`` is shared by ``assay audit verify`` (entries from the database) and
``assay audit verify --bundle`` (entries from an export), so both check exactly the same things.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.audit._checkpoint import Checkpoint, NoteVerifier, parse_checkpoint
from assay.audit._interface import AuditError
from assay.audit._merkle import MemoryTree, TreeBuilder, verify_consistency

LOG_ORIGIN = "assay/audit-log"
"""The origin line of assay's checkpoints."""
LOG_KEY_NAME = "assay-audit-log"
"""The signer name on assay's checkpoints."""


def entry_body(index: int, kind: str, actor: str, time: str, payload: dict[str, Any]) -> str:
    """The canonical body of entry ``index``: what is hashed and stored."""
    rest = json.dumps({"actor": actor, "kind": kind, "payload": payload, "time": time}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)
    return f'{{"index":{index},' + rest[1:]


def cited_blobs(body: str) -> list[str]:
    """The evidence blobs (``sha256:HEX``) entry ``body`` cites: its payload's ``blobs`` (an entry that cannot be
    read cites none; verification names it)."""
    try:
        blobs = (json.loads(body).get("payload") or {}).get("blobs")
    except (ValueError, AttributeError):
        return []
    return [b for b in blobs if isinstance(b, str)] if isinstance(blobs, list) else []


KEY_ROTATED = "log-key-rotated"
"""The kind of the entry that hands the log from one signing key to the next (payload ``from`` and ``to``: key
strings)."""


def keyring(trusted: Sequence[NoteVerifier], rotations: Iterable[tuple[int, dict[str, Any]]],
            notes: Sequence[str]) -> list[NoteVerifier]:
    """The keys whose checkpoints count: ``trusted`` and every key a rotation entry names, once the entry is
    covered by a checkpoint a key already in the ring signed (the rotation signs the log with both keys at the
    size that first includes the entry, so a ring that starts from the oldest or the newest key reaches all).
    A rotation entry only a key of its own vouches for is ignored: a forger's key never joins.

    ``rotations``: (entry index, payload) of the ``log-key-rotated`` entries; the entries' own integrity is what
    ``verify_log`` checks against the checkpoints."""
    ring = {v.key_string(): v for v in trusted}
    by_size: dict[int, list[str]] = {}
    for note in notes:
        lines = note.split("\n", 2)
        if len(lines) > 2 and lines[1].isdigit():
            by_size.setdefault(int(lines[1]), []).append(note)
    pending = list(rotations)
    while pending:
        joined = []
        for index, payload in pending:
            covering = [n for size in sorted(s for s in by_size if s > index)[:1] for n in by_size[size]]
            for note in covering:
                try:
                    parse_checkpoint(note, list(ring.values()))
                except AuditError:
                    continue
                for key in (payload.get("from"), payload.get("to")):
                    try:
                        ring.setdefault(str(key), NoteVerifier.from_key_string(str(key)))
                    except AuditError:
                        pass
                joined.append((index, payload))
                break
        if not joined:
            break
        pending = [r for r in pending if r not in joined]
    return list(ring.values())


@dataclass(frozen=True)
class LogProblem:
    """Something wrong in a log: ``entry`` is the first entry concerned, or None for checkpoint-level problems."""

    kind: str  # missing-entry | misplaced-entry | altered-entry | bad-checkpoint | root-mismatch | inconsistent
    #            | head-mismatch | uncovered-entry | altered-node | damaged-database
    message: str
    entry: int | None = None


@dataclass(frozen=True)
class LogReport:
    """What ``verify_log`` established."""

    size: int
    root: str
    checkpoints: int
    problems: tuple[LogProblem, ...] = field(default=())
    covered: int = 0
    """How many entries, from the first, the largest verified checkpoint covers."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """JSON form (schema ``assay.audit-verify/1.0``)."""
        return {"schema": "assay.audit-verify/1.0", "ok": self.ok, "size": self.size, "root": self.root,
                "checkpoints": self.checkpoints,
                "warnings": [],  # kept for readers of 1.0: entries no checkpoint covers are problems now, not warnings
                "problems": [{"kind": p.kind, "entry": p.entry, "message": p.message} for p in self.problems]}


def verify_log(entries: Iterable[tuple[int, str, str]], notes: Sequence[str],
               verifier: NoteVerifier | Sequence[NoteVerifier],
               *, head: tuple[int, Sequence[bytes]] | None = None,
               nodes: Iterable[tuple[int, int, str]] = ()) -> LogReport:
    """Recompute the tree from ``entries`` (index, body, stored leaf hex) in order and check everything.

    - every index is present once, in order, and the body names its own index;
    - every stored leaf equals the hash of its body (the first that does not is named);
    - every checkpoint's signature verifies with ``verifier`` (or one of them: ``keyring``), its root equals the
      recomputed root at its
      size, and consecutive checkpoints are consistent (an RFC 9162 consistency proof is built and checked);
    - ``head`` (size, peaks) as stored for appending equals the recomputed one;
    - every stored subtree node (level, index, hex) that proofs are built from equals the recomputed one, so a
      corrupted node is named here rather than only making ``audit proof`` fail.

    The tree is built once, level by level, after the entries are read, so a root or a consistency proof at
    any checkpoint costs O(log n): a log with a checkpoint after every change still verifies in O(n log n).
    """
    problems: list[LogProblem] = []
    checkpoints: list[Checkpoint] = []
    for i, note in enumerate(notes):
        try:
            checkpoints.append(parse_checkpoint(note, verifier))
        except AuditError as exc:
            problems.append(LogProblem("bad-checkpoint", f"checkpoint {i + 1}: {exc}"))
    checkpoints.sort(key=lambda c: c.size)
    leaves: list[bytes] = []
    first_bad: int | None = None
    sha256 = hashlib.sha256
    for index, body, stored in entries:  # the hot loop of a million-entry verify: kept to the bare checks
        expected = len(leaves)
        if index != expected:
            missing = index > expected
            problems.append(LogProblem("missing-entry" if missing else "misplaced-entry",
                                       f"entry {expected} is missing (the next entry is {index})" if missing
                                       else f"entry {index} appears again after {expected - 1}", expected))
            first_bad = expected if first_bad is None else first_bad
            break
        if not body.startswith(f'{{"index":{index},'):
            problems.append(LogProblem("misplaced-entry", f"entry {index} holds the body of another entry", index))
            first_bad = index if first_bad is None else first_bad
        leaf = sha256(b"\x00" + body.encode("utf-8")).digest()
        if leaf.hex() != stored and first_bad is None:
            problems.append(LogProblem("altered-entry", f"entry {index} was altered: its body no longer hashes to its "
                                       "recorded leaf", index))
            first_bad = index
        leaves.append(leaf)
    size = len(leaves)
    tree = MemoryTree(leaves)
    previous: Checkpoint | None = None
    for cp in checkpoints:
        if cp.size > size:
            problems.append(LogProblem("root-mismatch", f"checkpoint at size {cp.size} is beyond the {size} entries "
                                       "present: entries were deleted", size))
            continue
        if tree.root(cp.size) != cp.root:
            prior = previous.size if previous else 0
            problems.append(LogProblem("root-mismatch", f"the signed checkpoint at size {cp.size} does not match the "
                                       f"entries: an entry between {prior} and {cp.size - 1} was changed, removed or "
                                       "reordered" + (f" (first detectable: entry {first_bad})" if first_bad is not None
                                                      else ""), first_bad if first_bad is not None else prior))
        elif previous is not None and 0 < previous.size < cp.size:
            try:
                proof = tree.consistency_proof(previous.size, cp.size)
                verify_consistency(previous.size, cp.size, proof.hashes, previous.root, cp.root)
            except AuditError as exc:
                problems.append(LogProblem("inconsistent", f"checkpoints {previous.size} and {cp.size} are not "
                                           f"consistent: {exc}"))
        previous = cp
    if head is not None:
        head_size, peaks = head
        rebuilt = TreeBuilder.from_state(size, _peaks(tree, size)).state() if size else (0, ())
        if (head_size, tuple(peaks)) != rebuilt:
            problems.append(LogProblem("head-mismatch", f"the stored log head (size {head_size}) does not match the "
                                       f"{size} entries", min(head_size, size)))
    for level, index, stored in nodes:
        start, end = index << level, (index + 1) << level
        if level < 1 or end > size or tree.node(start, end).hex() != stored:
            problems.append(LogProblem("altered-node", f"the stored tree node at level {level}, index {index} (entries "
                                       f"{start}..{end - 1}) does not match the entries: inclusion proofs built from "
                                       "it would be wrong", start))
            break
    # assay signs a checkpoint in the same transaction as every change, so entries past the newest checkpoint were
    # written outside it (or are what remains of a log whose newer checkpoints were dropped): nothing vouches for them
    covered = min(checkpoints[-1].size, size) if checkpoints else 0
    if size and covered < size:
        problems.append(LogProblem("uncovered-entry", f"entries {covered}..{size - 1} are not covered by a signed "
                                   "checkpoint: nothing proves they are the log's", covered))
    return LogReport(size, tree.root(size).hex(), len(checkpoints), tuple(problems), covered)


def _peaks(tree: MemoryTree, size: int) -> list[bytes]:
    """The right-edge perfect subtrees of the first ``size`` leaves, largest first (what TreeBuilder stores)."""
    peaks, start = [], 0
    for bit in range(size.bit_length() - 1, -1, -1):
        if size >> bit & 1:
            peaks.append(tree.node(start, start + (1 << bit)))
            start += 1 << bit
    return peaks
