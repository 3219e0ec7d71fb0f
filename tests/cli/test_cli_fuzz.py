"""Every command's inputs, fuzzed, on SQLite and PostgreSQL: whatever a person or a script types, assay answers
with its output, or one ``assay: error:`` line and a documented exit code; never a traceback, never a hang, never
a character a terminal would act on, and the registry it leaves verifies intact.

Hypothesis picks a command and fills its arguments from names that exist in the registry (so the deep paths
run), names that almost exist, and arbitrary text (control and bidirectional characters, very long strings,
odd Unicode), times and numbers in and out of range, and files that are missing, empty, a folder, garbage or a
device. The commands run in this process (``main``), so a traceback is an exception here and fails the test.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay._text import unsafe_character
from assay.cli.main import main
from assay.registry import Registry, doctor
from tests.conftest import FUZZ_EXAMPLES
from tests.fixtures.world import build_world

_KNOWN = ["r1", "r2", "u1", "acme/good", "acme/good@1", "acme/good@2", "acme/good@99", "acme/raw@1",
          "support/prompt", "support/prompt@1", "prompt:support/prompt@1", "dev", "staging", "production", "none",
          "alice", "bob", "carol", "scan-clean", "owner-set", "approvals-production", "sha256:", "acme/good@sha256:0"]
_names = st.one_of(st.sampled_from(_KNOWN), st.text(max_size=30),
                   st.text(alphabet="\n\r\t\x1b\u202e\u2066\u200b\x00 a/@:.-", max_size=12),
                   st.sampled_from(["x" * 201, "a" * 5000, "-flag", "@", "a@b@c", "../../etc/passwd"]))
_texts = st.one_of(st.text(max_size=60), st.sampled_from(["why\nnot", "fine\u202e", "x" * 20000, ""]))
_times = st.one_of(st.sampled_from(["2026-12-01", "2099-01-01", "2000-01-01T00:00:00+05:00", "2026-13-45", "now",
                                    "9999-12-31T23:59:59"]), st.text(max_size=25))
_numbers = st.one_of(st.integers(-3, 2**70).map(str), st.text(max_size=6))


def _files(folder: Path) -> st.SearchStrategy[str]:
    (folder / "empty").write_bytes(b"")
    (folder / "garbage").write_bytes(bytes(range(256)) * 3)
    (folder / "folder").mkdir(exist_ok=True)
    (folder / "policy.yaml").write_text("version: 1\nrules:\n  - id: x\n    description: d\n    severity: deny\n"
                                        "    expr: 'true'\n")
    (folder / "evidence.json").write_text('{"model": {"risk_tier": "low"}}')
    return st.sampled_from([str(folder / n) for n in ("empty", "garbage", "folder", "missing", "policy.yaml",
                                                      "evidence.json")] + ["/dev/null", "/dev/zero"])


def _commands(files: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    n, t, when, num, f = _names, _texts, _times, _numbers, files
    shapes: list[tuple[Any, ...]] = [
        ("show", n), ("models", "--owner", n), ("lineage", n), ("where", n), ("release", "show", n),
        ("approvals", "--release", n, "--env", n), ("waivers", "--env", n), ("artifact", "list", "--kind", n),
        ("artifact", "show", n), ("dataset", "list"), ("dataset", "show", n),
        ("audit", "log", "--kind", n, "--actor", n, "--since", when, "--until", when, "--limit", num),
        ("audit", "log", "--release", n, "--env", n), ("status", "--at", when, "--env", n), ("history", "--env", n),
        ("gate", "check", n, "--env", n), ("promote", n, "--env", n, "--replaces", n),
        ("promote", n, "--env", n, "--canary", num), ("rollback", "--env", n, "--to", n, "--dry-run"),
        ("rollback", "--env", n, "--reason", t), ("canary", "abort", "--env", n, "--reason", t),
        ("approve", n, "--env", n, "--comment", t, "--role", n, "--actor", n),
        ("waive", n, "--release", n, "--env", n, "--reason", t, "--expires", when, "--actor", n),
        ("release", "create", n, "--model", n, "--artifact", n, "--note", t, "--params", f),
        ("release", "revoke", n, "--reason", t, "--actor", n), ("role", "grant", n, "approver", "--actor", n),
        ("role", "revoke", n, "approver", "--actor", n), ("role", "list"), ("environments", "set", n, n, "--actor", n),
        ("model", "set", n, "--owner", t, "--risk-tier", n), ("artifact", "add", f, "--kind", n, "--name", n),
        ("dataset", "register", f, "--name", n, "--license", t, "--retention", num),
        ("intake", f, "--name", n, "--owner", t, "--training", f, "--public-key", f),
        ("policy", "set", f, "--env", n), ("policy", "test", f, "--input", f, "--env", n), ("audit", "proof", num),
        ("audit", "verify", "--bundle", f), ("doctor",), ("bom", n), ("license", n),
        ("gate", "check", n, "--env", n, "--policy", f, "--save-evidence", f),
    ]
    return st.sampled_from(shapes).flatmap(
        lambda shape: st.tuples(*(s if isinstance(s, st.SearchStrategy) else st.just(s) for s in shape)).map(list))


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_every_command_answers_bad_input_in_one_line(reg: Registry, assay_env: dict[str, str], tmp_path: Path
                                                     ) -> None:
    world = build_world(reg, tmp_path)
    (tmp_path / "inputs").mkdir()
    commands = _commands(_files(tmp_path / "inputs"))
    seen: dict[int, int] = {}

    @settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(commands)
    def one(argv: list[str]) -> None:
        code, out, err = _run(argv)
        seen[code] = seen.get(code, 0) + 1
        assert code in (0, 1, 2), (argv, code, err)
        assert unsafe_character(out, multiline=True) is None and unsafe_character(err, multiline=True) is None, argv
        if code == 2:
            assert err.startswith("assay: error: ") and err.count("\n") == 1, (argv, err)
        else:
            assert err.count("\n") <= 1, (argv, err)

    one()
    print("exit codes seen", seen)
    assert seen.get(2, 0) > 0 and seen.get(0, 0) > 0, seen  # both the refusing and the answering paths ran
    code, out, _ = _run(["audit", "verify"])
    assert code == 0 and "INTACT" in out, out
    assert [p for p in doctor(world) if p.kind not in ("orphan", "leftover")] == []


@pytest.mark.parametrize("argv", [["release", "show", "r1"], ["audit", "log"], ["status", "--at", "2026-01-01"],
                                  ["artifact", "list"], ["dataset", "list"], ["approvals"], ["waivers"]])
def test_the_reads_answer_on_an_empty_registry(assay_env: dict[str, str], argv: list[str]) -> None:
    code, out, err = _run(argv)
    assert code in (0, 2) and (code == 0 or err.count("\n") == 1), (code, out, err)
