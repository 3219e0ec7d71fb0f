"""The audit-log key: created atomically, never silently replaced, and loadable from outside ASSAY_HOME.

Attacks and accidents tried here (each on SQLite and PostgreSQL): a process dies while creating the key; the key
is deleted after the log has checkpoints; the key is kept away from the rows it protects (``ASSAY_LOG_KEY``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.audit import _checkpoint

ASSAY = [sys.executable, "-m", "assay.cli.main"]


def _assay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASSAY, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def _add_artifact(env: dict[str, str], tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    prompt = tmp_path / f"{name}.txt"
    prompt.write_text(f"You are {name}.\n")
    return _assay(env, "artifact", "add", str(prompt), "--kind", "prompt", "--name", name)


def test_an_interrupted_key_creation_leaves_no_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys" / "audit-log.pem"
    path.parent.mkdir()

    def die(_fd: int) -> None:
        raise KeyboardInterrupt  # the process stops after the bytes were written, before they are durable

    monkeypatch.setattr(_checkpoint.os, "fsync", die)
    with pytest.raises(KeyboardInterrupt):
        _checkpoint.save_private_key(path, _checkpoint.generate_key())
    assert not path.exists() and list(path.parent.iterdir()) == []  # no empty key, no temporary file left
    monkeypatch.undo()
    _checkpoint.save_private_key(path, _checkpoint.generate_key())  # the next attempt makes a whole key
    assert _checkpoint.load_private_key(path) is not None and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(_checkpoint.AuditInputError, match="already exists"):
        _checkpoint.save_private_key(path, _checkpoint.generate_key())


def test_a_deleted_key_is_not_silently_replaced(assay_env: dict[str, str], tmp_path: Path) -> None:
    assert _add_artifact(assay_env, tmp_path, "first").returncode == 0
    key = Path(assay_env["ASSAY_HOME"]) / "keys" / "audit-log.pem"
    saved = key.read_bytes()
    key.unlink()
    refused = _add_artifact(assay_env, tmp_path, "second")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "audit-log key" in refused.stderr and "missing" in refused.stderr
    assert not key.exists()  # no new key was made
    key.write_bytes(saved)
    os.chmod(key, 0o600)
    assert _add_artifact(assay_env, tmp_path, "second").returncode == 0  # restored: writes go on
    verified = _assay(assay_env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_key_can_live_outside_assay_home(assay_env: dict[str, str], tmp_path: Path) -> None:
    vault = tmp_path / "vault" / "log-key.pem"
    vault.parent.mkdir()
    env = {**assay_env, "ASSAY_LOG_KEY": str(vault)}
    assert _add_artifact(env, tmp_path, "first").returncode == 0
    assert vault.is_file() and vault.with_name("log-key.pub.pem").is_file()
    assert not (Path(assay_env["ASSAY_HOME"]) / "keys" / "audit-log.pem").exists()
    assert _assay(env, "audit", "verify").returncode == 0
    # without the variable the registry's own key is missing: writes stop with one line, nothing is replaced
    refused = _add_artifact(assay_env, tmp_path, "second")
    assert refused.returncode == 2 and "ASSAY_LOG_KEY" in refused.stderr
