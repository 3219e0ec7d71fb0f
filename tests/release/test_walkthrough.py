"""The release walkthrough of docs/release.md (scripts/walkthrough.sh) runs end to end with the real CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_walkthrough_script(database_url: str) -> None:
    """On SQLite and on PostgreSQL: the script keeps ASSAY_DATABASE_URL, its registry is a fresh database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")} | {"ASSAY_DATABASE_URL": database_url}
    result = subprocess.run([str(ROOT / "scripts" / "walkthrough.sh")], capture_output=True, text=True, env=env,
                            timeout=600, cwd=ROOT)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "alice submitted r1 and cannot approve it" in result.stderr
    assert "gate refused r2 for production: promoted-through-previous" in result.stderr
    assert "canary r2 in production at 10% (active: r1)" in out
    assert "DRY RUN: rollback of production from r2 to r1 would succeed" in out
    assert "rolled back production: r2 -> r1" in out
    assert out.count("INTACT") == 2
