"""Faults and bad input end in one line and a documented exit code, and lose nothing (issue 14's fault table)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assay.registry import ModelRow, Registry


def test_an_empty_folder_is_not_a_model(reg: Registry, assay_env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, "-m", "assay.cli.main", "intake", str(empty), "--name", "acme/empty"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, **assay_env})
    assert run.returncode == 2 and "empty folder is not a model" in run.stderr and run.stderr.count("\n") == 1
    with reg.snapshot() as session:
        assert session.query(ModelRow).count() == 0
