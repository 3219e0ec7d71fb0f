"""Every file a user names is read within a named limit: a device never exhausts memory, a FIFO never hangs.

Each case passes ``/dev/zero`` (endless bytes) or a FIFO nobody writes to where a command reads a file, and expects
one line on stderr, exit 2 and no traceback, well within the subprocess timeout (a hang fails the test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay._files import read_bounded
from assay.errors import InputError


def _assay(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSAY_HOME": str(tmp_path / "home"), "ASSAY_ACTOR": "alice"}
    env.pop("ASSAY_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
@pytest.mark.parametrize("command", [
    ["release", "create", "r1", "--model", "m@1", "--params", "{src}"],
    ["intake", "{model}", "--name", "acme/m", "--training", "{src}"],
    ["verify", "{model}", "--public-key", "{src}"],
    ["policy", "test", "{src}", "--input", "{model}/config.json"],
    ["policy", "test", "{policy}", "--input", "{src}"],
    ["audit", "verify", "--bundle", "{model}/config.json", "--public-key", "{src}"],
    ["audit", "verify", "--bundle", "{src}"],
    ["gate", "check", "r1", "--env", "dev", "--policy", "{src}"],
    ["artifact", "add", "{src}", "--kind", "prompt", "--name", "p"],
], ids=["params", "training", "public-key", "policy", "evidence", "bundle-key", "bundle", "what-if", "artifact"])
def test_a_device_or_fifo_is_one_line_and_exit_2(tmp_path: Path, fifo: Path, command: list[str], source: str) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n  - id: ok\n    description: d\n    severity: deny\n    expr: 'true'\n")
    src = "/dev/zero" if source == "/dev/zero" else str(fifo)
    args = [a.format(src=src, model=model, policy=policy) for a in command]
    run = _assay(tmp_path, *args)
    assert run.returncode == 2, (args, run.returncode, run.stderr[-500:])
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert any(w in run.stderr for w in ("device", "FIFO", "not a file")), run.stderr


def test_read_bounded_names_its_limit_and_reads_regular_files(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"x" * 10)
    assert read_bounded(small, 10, "max_small_bytes") == b"x" * 10
    with pytest.raises(InputError, match=r"over max_small_bytes \(9 bytes\)"):
        read_bounded(small, 9, "max_small_bytes")
    with pytest.raises(InputError, match="is a folder"):
        read_bounded(tmp_path, 10, "max_small_bytes")
    with pytest.raises(InputError, match="does not exist"):
        read_bounded(tmp_path / "nowhere", 10, "max_small_bytes")
