"""Fuzzing the parsers the registry, release and audit commands added: no input may crash or hang them."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.errors import AssayError

FUZZ = settings(max_examples=int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "150")), deadline=5000,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_training_record_parser(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from assay.registry.ingest import _training

    path = tmp_path_factory.mktemp("t") / "training.json"
    path.write_bytes(data)
    try:
        doc, raw = _training(path)
    except AssayError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(doc, dict) and raw == data


_entry = st.tuples(st.integers(-2, 40), st.text(max_size=80), st.text(alphabet="0123456789abcdef", max_size=64))


@FUZZ
@given(st.lists(_entry, max_size=30), st.lists(st.text(max_size=300), max_size=3))
def test_verify_log_on_arbitrary_entries_and_notes(entries: list[tuple[int, str, str]], notes: list[str]) -> None:
    from assay.audit import NoteVerifier, generate_key, verify_log

    verifier = NoteVerifier("assay-audit-log", generate_key().public_key())
    report = verify_log(iter(entries), notes, verifier)
    assert report.ok == (not report.problems)
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


@FUZZ
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
    else:
        assert report.ok == (not report.problems)


@pytest.fixture(scope="module")
def sqlite_registry(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from assay.config import Settings
    from assay.registry import Registry

    home = tmp_path_factory.mktemp("home")
    reg = Registry.open(Settings(home, f"sqlite:///{home / 'r.db'}", home / "evidence", "fuzzer"))
    yield reg
    reg.close()


@FUZZ
@given(st.text(max_size=120))
def test_registry_queries_on_arbitrary_references(sqlite_registry, ref: str) -> None:  # noqa: ANN001
    from assay.registry import lineage, show, where

    for query in (show, lineage, where):
        try:
            query(sqlite_registry, ref)
        except AssayError as exc:
            assert "\n" not in str(exc)


def test_release_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"}, "ASSAY_HOME": str(tmp_path)}
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("version: 1\nrules:\n  - id: x\n    description: d\n    severity: deny\n"
                          "    expr: 'evidence.('\n")
    evidence = tmp_path / "e.json"
    evidence.write_text(json.dumps({"scan": {}}))
    for args, needle in ((["promote", "nope", "--env", "dev"], "no release named"),
                         (["promote", "nope", "--env", "mars"], ""),
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
