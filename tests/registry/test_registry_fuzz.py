"""Fuzzing the parsers the registry, release and audit commands added: no input may crash or hang them."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from assay.errors import AssayError


@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_training_record_parser(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from assay.registry._ingest import _training

    path = tmp_path_factory.mktemp("t") / "training.json"
    path.write_bytes(data)
    try:
        doc, raw = _training(path)
    except AssayError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(doc, dict) and raw == data


_entry = st.tuples(st.integers(-2, 40), st.text(max_size=80), st.text(alphabet="0123456789abcdef", max_size=64))


@given(st.lists(_entry, max_size=30), st.lists(st.text(max_size=300), max_size=3))
def test_verify_log_on_arbitrary_entries_and_notes(entries: list[tuple[int, str, str]], notes: list[str]) -> None:
    from assay.audit import NoteVerifier, generate_key, leaf_hash, root_from_leaf_hashes, verify_log

    verifier = NoteVerifier("assay-audit-log", generate_key().public_key())
    report = verify_log(iter(entries), notes, verifier)
    # What the log must say, worked out here: entries are read up to the first index out of place; no note can
    # be signed by a key generated a moment ago; a body must name its own index and hash to its stored leaf.
    prefix = []
    for position, (index, body, stored) in enumerate(entries):
        if index != position:
            break
        prefix.append((index, body, stored))
    leaves = [leaf_hash(body.encode()) for _, body, _ in prefix]
    assert report.size == len(prefix)
    assert report.root == root_from_leaf_hashes(leaves).hex()
    assert report.checkpoints == 0
    kinds = [p.kind for p in report.problems]
    assert kinds.count("bad-checkpoint") == len(notes)
    assert ("missing-entry" in kinds or "misplaced-entry" in kinds) == (len(prefix) < len(entries)
                                                                        or any(not body.startswith(
                                                                            f'{{"index":{i},') for i, body, _ in prefix))
    altered = [i for (i, _, stored), leaf in zip(prefix, leaves, strict=True) if leaf.hex() != stored]
    misplaced = [i for i, body, _ in prefix if not body.startswith(f'{{"index":{i},')]
    first_bad = min(altered + misplaced, default=None)
    if altered and first_bad == altered[0] and first_bad not in misplaced:  # else the misplaced one is named
        assert [p.entry for p in report.problems if p.kind == "altered-entry"] == [altered[0]]
    expected_ok = not notes and len(prefix) == len(entries) and not altered and not misplaced
    assert report.ok == expected_ok == (not report.problems)
    if entries and entries[0][0] != 0:
        assert not report.ok


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


_members = st.dictionaries(st.sampled_from(["entries.jsonl", "checkpoints.json", "proofs.jsonl",
                                            "audit-log.pub.pem", "evidence/sha256-00"]),
                           st.binary(max_size=300) | st.sampled_from([b"[]", b"{}", b'{"index": 0, "body": "x", '
                                                                      b'"leaf": "00"}\n', b'["not a note"]']))


@given(st.binary(max_size=500) | _members.map(_zip))
def test_bundle_verifier_on_arbitrary_files(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from assay.audit import generate_key, public_key_pem, verify_bundle

    folder = tmp_path_factory.mktemp("b")
    (folder / "b.zip").write_bytes(data)
    (folder / "k.pem").write_bytes(public_key_pem(generate_key()))
    try:
        report = verify_bundle(folder / "b.zip", public_key=folder / "k.pem")
    except AssayError as exc:
        assert "\n" not in str(exc)
        event("refused before verification (malformed bundle)")
    else:
        event("verified" if report.ok else f"verification failed ({report.problems[0].kind})")
        # No checkpoint can verify under a key generated a moment ago, so no bundle with entries is INTACT:
        # entries no signed checkpoint covers fail a bundle's verification.
        assert report.checkpoints == 0
        assert not report.ok or report.size == 0
        if report.size:
            assert any(p.kind == "uncovered-entry" for p in report.problems), report


@pytest.fixture(scope="module")
def module_registry(module_database_url: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A registry of its own on each database (SQLite, PostgreSQL), shared by this module's property tests."""
    from assay.config import Settings
    from assay.registry import Registry

    home = tmp_path_factory.mktemp("home")
    reg = Registry.open(Settings(home, module_database_url, home / "evidence", "fuzzer"))
    yield reg
    reg.close()


@given(st.text(max_size=120))
def test_registry_queries_on_arbitrary_references(module_registry, ref: str) -> None:  # noqa: ANN001
    from assay.registry import lineage, show, where

    for query in (show, lineage, where):
        try:
            query(module_registry, ref)
        except AssayError as exc:
            assert "\n" not in str(exc)


# --- structured edits of a real exported audit bundle ---------------------------------------------------------

@pytest.fixture(scope="module")
def audit_bundle(module_registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:  # noqa: ANN001
    """The members of a bundle ``assay audit export`` wrote: an intake, more entries, two signed checkpoints."""
    from assay.registry import IntakeRequest, intake
    from assay.registry import _auditlog as auditlog
    from assay.registry import _auditread as auditread
    from tests.fixtures.model_folders import card, write_model

    reg = module_registry
    work = tmp_path_factory.mktemp("bundle")
    assert intake(reg, IntakeRequest(write_model(work / "m", card=card("mit")), "acme/fuzzed")).accepted
    with reg.write() as session:
        auditlog.checkpoint(session, reg.home, "fuzzer")
        for i in range(5):
            auditlog.append(session, "test", "fuzzer", {"n": i})
        auditlog.checkpoint(session, reg.home, "fuzzer")
    with reg.read() as session:
        auditread.export(session, reg.blobs, reg.home, work / "audit.zip")
    with zipfile.ZipFile(work / "audit.zip") as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    assert len(json.loads(members["checkpoints.json"])) == 2 and any(n.startswith("evidence/") for n in members)
    return members


AUDIT_KEEPING = ("reorder-members", "stored-not-deflated", "reserialize-entries", "reindent-checkpoints",
                 "unknown-member", "drop-verifier-key-text")
"""Edits that keep every entry, checkpoint, proof and blob: the bundle must still verify."""
AUDIT_CHANGING = ("edit-body", "edit-body-and-leaf", "drop-entry", "duplicate-entry", "swap-entries",
                  "truncate-entries", "drop-checkpoint", "duplicate-checkpoint", "flip-checkpoint-byte",
                  "forge-checkpoint", "flip-proof-hash", "drop-proof", "drop-proofs", "flip-evidence-byte",
                  "drop-evidence")
"""Edits of what the log, its checkpoints, proofs and evidence say."""
_N = st.integers(0, 1 << 16)
AUDIT_EDITS = st.builds(list.__add__, st.lists(st.tuples(st.sampled_from(AUDIT_KEEPING), _N, _N), max_size=3),
                        st.lists(st.tuples(st.sampled_from(AUDIT_CHANGING), _N, _N), max_size=2))

_FOREIGN_LOG_KEY = None


def _foreign_log_signer():  # noqa: ANN202
    """A signer under the log's key name with a key the auditor was not given."""
    global _FOREIGN_LOG_KEY
    from assay.audit import LOG_KEY_NAME, NoteSigner, generate_key

    if _FOREIGN_LOG_KEY is None:
        _FOREIGN_LOG_KEY = generate_key()
    return NoteSigner(LOG_KEY_NAME, _FOREIGN_LOG_KEY)


def edit_bundle(members: dict[str, bytes], edits: list[tuple[str, int, int]]) -> tuple[bytes, dict[str, bytes]]:
    """The bundle with ``edits`` applied: the zip bytes and its members."""
    from assay.audit import LOG_ORIGIN, leaf_hash, root_from_leaf_hashes, sign_checkpoint

    members = dict(members)
    entries = [json.loads(line) for line in members["entries.jsonl"].decode().splitlines()]
    notes = json.loads(members["checkpoints.json"])
    proofs = members.get("proofs.jsonl", b"").decode().splitlines()
    order, compression, separators, indent = list(members), zipfile.ZIP_DEFLATED, (", ", ": "), 1
    for op, a, b in edits:
        if op == "reorder-members":
            order = order[a % len(order):] + order[:a % len(order)]
        elif op == "stored-not-deflated":
            compression = zipfile.ZIP_STORED
        elif op == "reserialize-entries":
            separators = (",", ":")
        elif op == "reindent-checkpoints":
            indent = (None, 0, 2)[a % 3]
        elif op == "unknown-member":
            members[f"notes/readme-{a % 5}.txt"] = b"not part of the log"
        elif op == "drop-verifier-key-text":
            members.pop("verifier-key.txt", None)
        elif op in ("edit-body", "edit-body-and-leaf") and entries:
            entry = entries[a % len(entries)]
            body = entry["body"]
            i = len(f'{{"index":{entry["index"]},') + b % max(len(body) - 20, 1)
            entry["body"] = body[:i] + ("x" if body[i:i + 1] != "x" else "y") + body[i + 1:]
            if op == "edit-body-and-leaf":
                entry["leaf"] = leaf_hash(entry["body"].encode()).hex()
        elif op == "drop-entry" and entries:
            del entries[a % len(entries)]
        elif op == "duplicate-entry" and entries:
            entries.insert(a % len(entries), dict(entries[a % len(entries)]))
        elif op == "swap-entries" and entries:
            i, j = a % len(entries), b % len(entries)
            entries[i], entries[j] = entries[j], entries[i]
        elif op == "truncate-entries":
            entries = entries[:a % (len(entries) + 1)]
        elif op == "drop-checkpoint" and notes:
            del notes[a % len(notes)]
        elif op == "duplicate-checkpoint" and notes:
            notes.append(notes[a % len(notes)])
        elif op == "flip-checkpoint-byte" and notes:
            note = notes[a % len(notes)]
            i = b % len(note)
            notes[a % len(notes)] = note[:i] + chr(ord(note[i]) ^ 1) + note[i + 1:]
        elif op == "forge-checkpoint":
            leaves = [leaf_hash(e["body"].encode()) for e in entries]
            notes.append(sign_checkpoint(LOG_ORIGIN, len(leaves), root_from_leaf_hashes(leaves),
                                         _foreign_log_signer()))
        elif op == "flip-proof-hash" and proofs:
            doc = json.loads(proofs[a % len(proofs)])
            if doc["hashes"]:
                h = doc["hashes"][b % len(doc["hashes"])]
                doc["hashes"][b % len(doc["hashes"])] = ("0" if h[0] != "0" else "1") + h[1:]
                proofs[a % len(proofs)] = json.dumps(doc)
        elif op == "drop-proof" and proofs:
            del proofs[a % len(proofs)]
        elif op == "drop-proofs":
            proofs = []
        elif op in ("flip-evidence-byte", "drop-evidence"):
            blobs = sorted(n for n in members if n.startswith("evidence/"))
            if blobs:
                name = blobs[a % len(blobs)]
                if op == "drop-evidence":
                    del members[name]
                else:
                    members[name] = bytes([members[name][0] ^ 1]) + members[name][1:]
    members["entries.jsonl"] = "".join(json.dumps(e, separators=separators) + "\n" for e in entries).encode()
    members["checkpoints.json"] = json.dumps(notes, indent=indent).encode()
    if proofs:
        members["proofs.jsonl"] = "".join(line + "\n" for line in proofs).encode()
    else:
        members.pop("proofs.jsonl", None)
    names = [n for n in order if n in members] + [n for n in members if n not in order]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name in names:
            zf.writestr(name, members[name])
    return buf.getvalue(), members


def _log(members: dict[str, bytes]) -> list[tuple[int, str]]:
    return [(e["index"], e["body"]) for e in map(json.loads, members["entries.jsonl"].decode().splitlines())]


@given(edits=AUDIT_EDITS)
def test_edited_audit_bundles_verify_only_unchanged_and_only_under_the_log_key(
        audit_bundle: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory,
        edits: list[tuple[str, int, int]]) -> None:
    from assay.audit import generate_key, public_key_pem, verify_bundle

    data, members = edit_bundle(audit_bundle, edits)
    folder = tmp_path_factory.mktemp("edited")
    (folder / "audit.zip").write_bytes(data)
    (folder / "log.pub.pem").write_bytes(audit_bundle["audit-log.pub.pem"])
    (folder / "other.pub.pem").write_bytes(public_key_pem(generate_key()))
    unchanged = all(op in AUDIT_KEEPING for op, _, _ in edits)
    report = verify_bundle(folder / "audit.zip", public_key=folder / "log.pub.pem")
    # Verified: INTACT, with every entry under a signed checkpoint (an uncovered entry is a problem).
    verified = report.ok and report.checkpoints > 0
    event("log key: " + ("verified" if verified else "INTACT without a checkpoint" if report.ok
                         else f"verification failed ({report.problems[0].kind})"))
    log, exported = _log(members), _log(audit_bundle)
    prefix = log == exported[:len(log)]
    if verified:  # soundness: the entries (a prefix of the log: see below) and every blob are the ones exported
        assert prefix and report.size == len(log), (edits, report)
        assert all(members[n] == audit_bundle[n] for n in members if n.startswith("evidence/"))
    if not prefix:  # soundness: a changed log never verifies, covered or not
        assert not report.ok, (edits, report)
    # A bundle cut back to an earlier signed checkpoint, with the later checkpoints dropped, is a true (older) log
    # and verifies as such: only a witness copy of the newest checkpoint can tell (issue 13, open).
    if unchanged:  # the accepting path is reached: repacking a bundle does not break it
        assert verified, (edits, report.problems)
    other = verify_bundle(folder / "audit.zip", public_key=folder / "other.pub.pem")
    assert other.checkpoints == 0  # no checkpoint verifies under a key that signed none of them
    assert not other.ok or not json.loads(members["checkpoints.json"]), (edits, other)


def test_release_cli_bad_input_is_one_line(tmp_path: Path, database_url: str) -> None:
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"}, "ASSAY_HOME": str(tmp_path),
           "ASSAY_DATABASE_URL": database_url}
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("version: 1\nrules:\n  - id: x\n    description: d\n    severity: deny\n"
                          "    expr: 'evidence.('\n")
    evidence = tmp_path / "e.json"
    evidence.write_text(json.dumps({"scan": {}}))
    for args, needle in ((["promote", "nope", "--env", "dev"], "no release named"),
                         (["promote", "nope", "--env", "mars"], "no release named 'nope'"),  # release first
                         (["rollback", "--env", "mars"], "unknown environment 'mars'; environments: dev, "),
                         (["history", "--env", "mars"], "unknown environment 'mars'"),
                         (["rollback", "--env", "production"], "nothing is deployed"),
                         (["waive", "scan-clean", "--release", "r", "--env", "dev", "--reason", "x", "--expires",
                           "soon"], "not a date"),
                         (["policy", "test", str(bad_policy), "--input", str(evidence)], "p.yaml:6"),
                         (["audit", "proof", "7"], "no audit entry"),
                         (["audit", "verify", "--bundle", str(evidence)], "cannot open bundle")):
        result = subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and needle in result.stderr and "Traceback" not in result.stderr
