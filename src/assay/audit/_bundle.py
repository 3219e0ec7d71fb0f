"""``assay audit verify --bundle``: check an exported audit bundle with nothing but the bundle (no database).

The bundle is a zip: ``entries.jsonl`` (index, body, leaf), ``checkpoints.json`` (signed notes),
``proofs.jsonl`` (an inclusion proof per entry), ``evidence/sha256-<hex>`` blobs and ``audit-log.pub.pem``.
An auditor should pass the log's public key obtained separately (``public_key``); the bundle's own copy only
proves the bundle is self-consistent.

As in the live log (where every change is signed in its own transaction), an entry no signed checkpoint covers
could have been written or edited by anyone, so it fails the verification (problem kind ``uncovered-entry``).
So does an entry without an inclusion proof (``missing-proof``) and an evidence blob an entry cites (its
payload's ``blobs``) that the bundle does not carry (``missing-evidence``): a bundle proves all of itself or fails.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from assay._files import open_regular, read_bounded
from assay.audit._checkpoint import MAX_NOTE_BYTES, NoteVerifier, load_public_key_pem
from assay.audit._interface import AuditError, InclusionProof
from assay.audit._merkle import verify_inclusion
from assay.audit.log import KEY_ROTATED, LOG_KEY_NAME, LogProblem, LogReport, cited_blobs, keyring, verify_log
from assay.errors import InputError

MAX_BUNDLE_MEMBER_BYTES = 4 << 30
"""A bundle member larger than this (uncompressed) is refused."""


def _read(zf: zipfile.ZipFile, name: str, required: bool = True) -> bytes:
    """A member's bytes; a missing optional member reads as empty."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        if required:
            raise InputError(f"the bundle has no {name}") from None
        return b""
    if info.file_size > MAX_BUNDLE_MEMBER_BYTES:
        raise InputError(f"bundle member {name} is over max_bundle_member_bytes")
    return zf.read(info)


def verify_bundle(path: Path, *, public_key: Path | None = None, witnessed: Sequence[str] = ()) -> LogReport:
    """Verify the log in the bundle, its checkpoints (and ``witnessed`` ones kept elsewhere), its proofs and its
    evidence blobs."""
    handle = open_regular(path, "bundle")  # never a device or a FIFO: a zip reader would read it forever
    try:
        zf = zipfile.ZipFile(handle)
    except (OSError, zipfile.BadZipFile) as exc:
        handle.close()
        raise InputError(f"cannot open bundle {path}: {exc}") from None
    with handle, zf:
        try:
            pem = read_bounded(public_key, MAX_NOTE_BYTES, "max_note_bytes", "public key") if public_key \
                else _read(zf, "audit-log.pub.pem")
            verifier = NoteVerifier(LOG_KEY_NAME, load_public_key_pem(pem))
            entries = []
            for n, line in enumerate(_read(zf, "entries.jsonl").decode("utf-8").splitlines()):
                item = json.loads(line)
                if not (isinstance(item, dict) and isinstance(item.get("index"), int)
                        and isinstance(item.get("body"), str) and isinstance(item.get("leaf"), str)):
                    raise InputError(f"entries.jsonl line {n + 1}: expected index, body and leaf")
                entries.append((item["index"], item["body"], item["leaf"]))
            notes = json.loads(_read(zf, "checkpoints.json"))
            if not (isinstance(notes, list) and all(isinstance(x, str) for x in notes)):
                raise InputError("checkpoints.json must be a list of signed notes")
            proofs_raw = _read(zf, "proofs.jsonl", required=False)
        except OSError as exc:
            raise InputError(f"cannot read {public_key}: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"malformed bundle {path}: {exc}") from None
        rotations = []
        for index, body, _ in entries:
            if f'"kind":"{KEY_ROTATED}"' in body:
                try:
                    rotations.append((index, json.loads(body)["payload"]))
                except (ValueError, KeyError, TypeError):
                    continue  # verify_log names an entry that does not parse (its leaf no longer matches)
        ring = keyring([verifier], rotations, [*notes, *witnessed])
        report = verify_log(iter(entries), [*notes, *witnessed], ring)
        problems = [*report.problems, *_proof_problems(proofs_raw, entries, report)]
        present = {name[len("evidence/"):].replace("-", ":", 1) for name in zf.namelist()
                   if name.startswith("evidence/sha256-")}
        for name in sorted(zf.namelist()):
            if name.startswith("evidence/sha256-"):
                data = _read(zf, name)
                if hashlib.sha256(data).hexdigest() != name[len("evidence/sha256-"):]:
                    problems.append(LogProblem("altered-evidence", f"{name} does not hash to its name"))
        missing = sorted({d for _, body, _ in entries for d in cited_blobs(body)} - present)
        if missing:
            problems.append(LogProblem("missing-evidence", f"{len(missing)} evidence blob(s) the entries cite are not "
                                       f"in the bundle, first {missing[0]}"))
    return replace(report, problems=tuple(problems))


def _proof_problems(raw: bytes, entries: list[tuple[int, str, str]], report: LogReport) -> list[LogProblem]:
    """Every entry needs one inclusion proof, at the bundle's full size, reaching its root (which the newest
    signed checkpoint vouches for: an uncovered tail is already a problem of its own)."""
    root = bytes.fromhex(report.root)
    leaves = {i: leaf for i, _, leaf in entries}
    proven: set[int] = set()
    for n, line in enumerate(raw.decode("utf-8", "replace").splitlines()):
        try:
            proof = InclusionProof.from_json(json.loads(line))
            if proof.size != report.size:
                raise AuditError(f"proof of entry {proof.index} is for size {proof.size}, not {report.size}")
            verify_inclusion(bytes.fromhex(leaves[proof.index]), proof.index, proof.size, proof.hashes, root)
        except (AuditError, ValueError, KeyError) as exc:
            return [LogProblem("bad-proof", f"proofs.jsonl line {n + 1}: {exc}")]
        proven.add(proof.index)
    unproven = sorted(set(leaves) - proven)
    return [LogProblem("missing-proof", f"{len(unproven)} entries have no inclusion proof in proofs.jsonl, first "
                       f"entry {unproven[0]}", unproven[0])] if unproven else []
