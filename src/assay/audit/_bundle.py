"""``assay audit verify --bundle``: check an exported audit bundle with nothing but the bundle (no database).

The bundle is a zip: ``entries.jsonl`` (index, body, leaf), ``checkpoints.json`` (signed notes),
``proofs.jsonl`` (an inclusion proof per entry), ``evidence/sha256-<hex>`` blobs and ``audit-log.pub.pem``.
An auditor should pass the log's public key obtained separately (``public_key``); the bundle's own copy only
proves the bundle is self-consistent.

As in the live log (where every change is signed in its own transaction), an entry no signed checkpoint covers
could have been written or edited by anyone, so it fails the verification (problem kind ``uncovered-entry``).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path

from assay.audit._checkpoint import NoteVerifier, load_public_key_pem
from assay.audit._interface import AuditError, InclusionProof
from assay.audit._merkle import verify_inclusion
from assay.audit.log import LOG_KEY_NAME, LogProblem, LogReport, verify_log
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


def verify_bundle(path: Path, *, public_key: Path | None = None) -> LogReport:
    """Verify the log in the bundle, its checkpoints, its proofs and its evidence blobs."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot open bundle {path}: {exc}") from None
    with zf:
        try:
            pem = public_key.read_bytes() if public_key else _read(zf, "audit-log.pub.pem")
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
        report = verify_log(iter(entries), notes, verifier)
        problems = list(report.problems)
        root = bytes.fromhex(report.root)
        leaves = {i: leaf for i, _, leaf in entries}
        for n, line in enumerate(proofs_raw.decode("utf-8", "replace").splitlines()):
            try:
                proof = InclusionProof.from_json(json.loads(line))
                if proof.size == report.size:
                    verify_inclusion(bytes.fromhex(leaves[proof.index]), proof.index, proof.size, proof.hashes, root)
            except (AuditError, ValueError, KeyError) as exc:
                problems.append(LogProblem("bad-proof", f"proofs.jsonl line {n + 1}: {exc}"))
                break
        for name in zf.namelist():
            if name.startswith("evidence/sha256-"):
                data = _read(zf, name)
                if hashlib.sha256(data).hexdigest() != name[len("evidence/sha256-"):]:
                    problems.append(LogProblem("altered-evidence", f"{name} does not hash to its name"))
    return replace(report, problems=tuple(problems))
