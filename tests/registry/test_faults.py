"""Faults and bad input end in one line and a documented exit code, and lose nothing (issue 14's fault table).

Each case is a fault met from outside, made real: a folder that is not there, a table or column dropped by
hand, a zeroed page of the SQLite file, a home the user cannot write, a disk with 64 KB free, strings longer
than their column, characters that would forge or reorder a line. Each runs ``assay`` as a process and checks
the exit code, that stderr is one ``assay: error:`` line, and that what was there before is all still there.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assay.registry import ModelRow, Registry, doctor
from tests.fixtures.world import build_world


def _assay(env: dict[str, str], *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env}, **kw)


def _one_line(run: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert run.returncode == code, (run.returncode, run.stdout[-500:], run.stderr[-2000:])
    assert run.stderr.startswith("assay: error: ") and run.stderr.count("\n") == 1, run.stderr[-2000:]
    assert needle.lower() in run.stderr.lower(), run.stderr


def _intact(env: dict[str, str]) -> None:
    run = _assay(env, "audit", "verify")
    assert run.returncode == 0 and "INTACT" in run.stdout, run.stdout + run.stderr


@pytest.fixture
def world(reg: Registry, tmp_path: Path) -> Registry:
    return build_world(reg, tmp_path)


def test_an_empty_folder_is_not_a_model(reg: Registry, assay_env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line(_assay(assay_env, "intake", str(empty), "--name", "acme/empty"), 2, "empty folder is not a model")
    with reg.snapshot() as session:
        assert session.query(ModelRow).count() == 0


def test_writing_into_a_missing_folder_is_one_line(world: Registry, assay_env: dict[str, str], tmp_path: Path
                                                   ) -> None:
    _one_line(_assay(assay_env, "gate", "check", "r1", "--env", "dev", "--save-evidence",
                     str(tmp_path / "no" / "such" / "evidence.json")), 2, "No such file or directory")
    _one_line(_assay(assay_env, "bom", "acme/good@1", "--output", str(tmp_path / "nope" / "bom.json")), 2,
              "No such file or directory")


@pytest.mark.parametrize("edit", ["DROP TABLE waivers", "ALTER TABLE releases DROP COLUMN note",
                                  "DROP TABLE deployments"])
def test_a_table_or_column_dropped_by_hand_is_one_line(world: Registry, assay_env: dict[str, str], edit: str
                                                       ) -> None:
    with world.engine.begin() as conn:
        conn.execute(text(edit + (" CASCADE" if world.engine.dialect.name == "postgresql" else "")))
    runs = [_assay(assay_env, *args) for args in (["promote", "r1", "--env", "dev"], ["release", "create", "r9",
            "--model", "acme/good@1", "--note", "n"], ["status"], ["history", "--env", "dev"], ["doctor"],
            ["gate", "check", "r2", "--env", "staging"])]
    assert all("Traceback" not in r.stderr for r in runs), [r.stderr for r in runs]
    failed = [r for r in runs if r.returncode != 0]
    assert failed, "a dropped table went unnoticed by every command"
    for run in failed:
        assert run.returncode in (1, 2) and run.stderr.count("\n") == 1, run.stderr
        assert "changed outside assay" in run.stderr or "no such" in run.stderr.lower(), run.stderr


def _zero_page(db: Path, table: str) -> None:
    """Overwrite the root page of ``table``'s first index with zeros, as a bad sector or a torn write would."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                            "ORDER BY rootpage LIMIT 1", (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(bytes(size))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a page of the file (PostgreSQL: its checksums)
def test_a_damaged_sqlite_file_is_refused_for_writes_and_named_by_verify(world: Registry, assay_env: dict[str, str],
                                                                        tmp_path: Path) -> None:
    db = Path(world.engine.url.database or "")
    world.close()
    backup = tmp_path / "backup.db"
    shutil.copy(db, backup)
    _zero_page(db, "version_files")  # an index no command below reads: only a check of the whole file sees it
    _one_line(_assay(assay_env, "role", "grant", "dave", "approver"), 2, "the registry database is damaged")
    _one_line(_assay(assay_env, "release", "create", "r9", "--model", "acme/good@1"), 2, "damaged")
    verify = _assay(assay_env, "audit", "verify")
    assert verify.returncode == 1 and "damaged-database" in verify.stdout and "TAMPERED" in verify.stdout
    assert _assay(assay_env, "doctor").returncode == 1
    shutil.copy(backup, db)  # the documented way out: the backup, which lost nothing
    _intact(assay_env)
    assert _assay(assay_env, "role", "grant", "dave", "approver").returncode == 0


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[Path]:
    """``folder`` seen read-only: a read-only bind mount when running as root (for whom permissions do not bite),
    else the permission bits of every file and folder in it."""
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
            yield view
        finally:
            subprocess.run(["umount", str(view)], check=True)
        return
    view.rmdir()
    folder.rename(view)
    paths = [view, *view.rglob("*")]
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield view
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)
        view.rename(folder)


def test_a_read_only_home_is_one_line_and_loses_nothing(world: Registry, assay_env: dict[str, str]) -> None:
    world.close()
    home = Path(assay_env["ASSAY_HOME"])
    before = _assay(assay_env, "status").stdout
    with _read_only(home) as view:
        env = {**assay_env, "ASSAY_HOME": str(view)}
        if assay_env["ASSAY_DATABASE_URL"].startswith("sqlite"):
            env["ASSAY_DATABASE_URL"] = f"sqlite:///{view / 'registry.db'}"
        runs = {" ".join(a): _assay(env, *a) for a in (["status"], ["models"], ["role", "grant", "dave", "approver"],
                                                          ["promote", "r1", "--env", "dev"])}
    for args, run in runs.items():
        if run.returncode != 0 or "promote" in args:  # on PostgreSQL the reads succeed; the promotion cannot
            _one_line(run, 2, "read-only")
    _intact(assay_env)
    assert _assay(assay_env, "status").stdout == before


@contextlib.contextmanager
def _small_disk(folder: Path) -> Iterator[Callable[[], None]]:
    """A file system of 4 MB mounted at ``folder`` (tmpfs), or, where mounting is not allowed, a per-process
    file-size limit (RLIMIT_FSIZE) that makes writes past it fail the way a full disk does. Yields the function
    that fills all but 64 KB of it."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                                                   capture_output=True).returncode == 0
    try:
        def fill() -> None:
            if mounted:
                free = shutil.disk_usage(folder).free
                (folder / "filler").write_bytes(bytes(max(free - (64 << 10), 0)))

        yield fill
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_one_line_and_loses_nothing(assay_env: dict[str, str], database_url: str, tmp_path: Path
                                                   ) -> None:
    disk = tmp_path / "disk"
    with _small_disk(disk) as fill:
        home = disk / "home"
        env = {**assay_env, "ASSAY_HOME": str(home)}
        if database_url.startswith("sqlite"):
            env["ASSAY_DATABASE_URL"] = f"sqlite:///{home / 'registry.db'}"
        model = tmp_path / "m"
        model.mkdir()
        (model / "config.json").write_text('{"a": 1}')
        (model / "weights.bin").write_bytes(os.urandom(300_000))
        for args in (["role", "grant", "alice", "admin"], ["role", "grant", "bob", "approver"],
                     ["intake", str(model), "--name", "acme/m", "--owner", "t", "--risk-tier", "low"],
                     ["release", "create", "r1", "--model", "acme/m@1", "--actor", "carol"]):
            assert _assay(env, *args).returncode == 0
        before = _assay(env, "status").stdout
        fill()
        limit = {} if any(disk.glob("filler")) else {"preexec_fn": _file_size_limit(64 << 10)}
        big = tmp_path / "big"
        big.mkdir()
        (big / "w.bin").write_bytes(os.urandom(400_000))
        promoted = False
        for args in (["approve", "r1", "--env", "staging", "--actor", "bob"], ["promote", "r1", "--env", "dev"],
                     ["intake", str(big), "--name", "acme/big"], ["artifact", "add", str(big / "w.bin"), "--kind",
                                                                  "prompt", "--name", "p"]):
            run = _assay(env, *args, **limit)
            if run.returncode != 0:  # PostgreSQL's own disk is not full: only the evidence writes may fail there
                _one_line(run, 2, "")
                assert any(w in run.stderr for w in ("disk is full", "No space left", "too large")), run.stderr
            promoted |= args[0] == "promote" and run.returncode == 0
        assert not promoted or env["ASSAY_DATABASE_URL"].startswith("postgresql")
        for leftover in disk.glob("filler"):
            leftover.unlink()
        _intact(env)
        after = _assay(env, "status").stdout
        assert ("dev          r1 (acme/m@1)" in after) if promoted else after == before  # whole, or not at all
        assert _assay(env, "approve", "r1", "--env", "production", "--actor", "bob").returncode == 0
        checked = _assay(env, "doctor")
        assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["intake", "{model}", "--name", "acme/m", "--owner", "o" * 300], "models.owner is 300 characters long"),
    (["intake", "{model}", "--name", "acme/m", "--revision", "v" * 201], "model_versions.revision is 201"),
    (["approve", "r1", "--env", "dev", "--actor", "bob", "--role", "r" * 101], "approvals.role is 101"),
    (["dataset", "register", "{model}", "--name", "d", "--license", "L" * 401], "datasets.license is 401"),
    (["release", "create", "r9", "--model", "acme/good@1", "--note", "n" * 20000], "releases.note is 20000"),
])
def test_lengths_are_checked_before_the_database_the_same_on_both(world: Registry, assay_env: dict[str, str],
                                                                  tmp_path: Path, args: list[str], needle: str
                                                                  ) -> None:
    model = tmp_path / "good1"
    run = _assay(assay_env, *[a.replace("{model}", str(model)) for a in args])
    _one_line(run, 2, needle)
    _intact(assay_env)


_SOON = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()


@pytest.mark.parametrize(("args", "needle"), [
    (["approve", "r1", "--env", "dev", "--actor", "bob\n   9  2026-01-01 00:00:00  promote  r2"], "U+000A"),
    (["role", "grant", "bo\u202eb", "approver"], "control or bidirectional character U+202E"),
    (["approve", "r2", "--env", "dev", "--actor", "bob", "--comment", "fine\u202e"], "U+202E"),
    (["waive", "owner-set", "--release", "u1", "--env", "dev", "--actor", "bob", "--reason", "a\x1b[2Jb",
      "--expires", _SOON], "U+001B"),
    (["model", "set", "acme/raw", "--owner", "team\u2066x"], "U+2066"),
    (["release", "create", "r\n9", "--model", "acme/good@1"], "invalid release name"),
])
def test_control_and_bidi_characters_are_refused(world: Registry, assay_env: dict[str, str], args: list[str],
                                                 needle: str) -> None:
    _one_line(_assay(assay_env, *args), 2, needle)
    history = _assay(assay_env, "history", "--env", "dev").stdout
    assert "bob" not in history and history.count("\n") == 3  # the three deployments of dev, nothing forged
    _intact(assay_env)


def test_output_escapes_what_a_terminal_would_act_on() -> None:
    from assay._text import printable

    assert printable("evil\u202etxt.exe") == "evil\\u202etxt.exe"
    assert printable("a\x1b[2Jb\tc\nd") == "a\\u001b[2Jb\tc\nd"
    run = subprocess.run([sys.executable, "-m", "assay.cli.main", "show", "x\u202e\ny"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "ASSAY_HOME": "/nonexistent/\u202e"})
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "\u202e" not in run.stderr


def test_doctor_checks_every_kind_of_blob_and_calls_nothing_live_an_orphan(world: Registry) -> None:
    assert [p for p in doctor(world) if p.kind != "orphan"] == []
    orphans = [p for p in doctor(world) if p.kind == "orphan"]
    assert orphans == [], [p.message for p in orphans]  # artifacts, deployments, policies, keys: all cited
    with world.snapshot() as session:
        artifact = session.execute(text("SELECT digest FROM artifacts")).scalar_one()
        deployment = session.execute(text("SELECT evidence_digests FROM deployments ORDER BY id")).first()[0]
    evidence = (deployment if isinstance(deployment, list) else __import__("json").loads(deployment))[0]
    blobs = world.blobs.root / "sha256"
    (blobs / artifact[7:9] / artifact[9:]).write_bytes(b"You are evil.")
    (blobs / evidence[7:9] / evidence[9:]).unlink()
    (blobs / artifact[7:9] / ".tmp-killed-writer").write_bytes(b"half")
    found = {(p.kind, p.digest): p for p in doctor(world)}
    assert "artifact support/prompt@1" in " ".join(found["altered", artifact].cited_by)
    assert "deployment dev#1 evidence" in " ".join(found["missing", evidence].cited_by)
    assert any(k == "leftover" and ".tmp-killed-writer" in p.message for (k, _), p in found.items())


def test_a_nul_in_a_query_is_the_same_refusal_on_both(reg: Registry) -> None:
    """PostgreSQL cannot hold U+0000 in text and its driver raises ValueError; SQLite can. Both refuse it first."""
    from assay.errors import UsageError
    from assay.registry import list_models, where

    with pytest.raises(UsageError, match="NUL"):
        list_models(reg, owner="team\x00")
    with pytest.raises(UsageError, match="invalid name"):  # a reference is refused by its own rule first
        where(reg, "acme/\x00m")
