"""A lost race is one line and exit 2, never a traceback (SQLite and PostgreSQL).

The processes really race: several create the same release, and several approvals for one release arrive at
once. Whoever loses, by the friendly check or by the database's unique key, gets one line on stderr and exit 2;
exactly one release is created and each approver's approval is recorded once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assay.registry import IntakeRequest, ModelRow, Registry, WriteConflict, intake
from assay.release import approve, create_release, grant_role, list_roles
from tests.fixtures.model_folders import card, write_model


def test_a_unique_key_taken_first_is_a_write_conflict(reg: Registry) -> None:
    """What a race loser meets at commit, made to happen deterministically: a row whose unique key exists."""
    with reg.write() as session:
        session.add(ModelRow(name="acme/m", created_by="a", created_at=datetime.now(UTC)))
    with pytest.raises(WriteConflict, match="nothing was changed"), reg.write() as session:
        session.add(ModelRow(name="acme/m", created_by="b", created_at=datetime.now(UTC)))


def _race(env: dict[str, str], args_list: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen([sys.executable, "-m", "assay.cli.main", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in args_list]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in procs]


def test_racing_writers_lose_in_one_line(reg: Registry, assay_env: dict[str, str], tmp_path: Path) -> None:
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/m", owner="x", risk_tier="low"))
    grant_role(reg, "alice", "admin")
    approvers = [f"approver{i}" for i in range(4)]
    for who in approvers:
        grant_role(reg, who, "approver")
    env = {**os.environ, **assay_env}
    created = _race(env, [["release", "create", "r1", "--model", "acme/m@1", "--actor", f"dev{i}"] for i in range(6)])
    approved = _race(env, [["approve", "r1", "--env", "staging", "--actor", who] for who in approvers * 2])
    for run in created + approved:
        assert run.returncode in (0, 2) and "Traceback" not in run.stderr, run.stderr[-800:]
        assert run.returncode == 0 or run.stderr.count("\n") == 1, run.stderr
    assert sum(r.returncode == 0 for r in created) == 1
    assert sum(r.returncode == 0 for r in approved) == len(approvers)
    assert "approver0" in list_roles(reg)
    with pytest.raises(Exception, match="exists already"):
        create_release(reg, "r1", "acme/m@1")
    with pytest.raises(Exception, match="already approved"):
        approve(Registry(reg.engine, reg.blobs, "approver0", reg.home), "r1", "staging")



def test_racing_promotions_have_one_meaning(reg: Registry, assay_env: dict[str, str], tmp_path: Path) -> None:
    """Promotions of one environment are serialized: each commits over exactly the state it was judged on, or
    exits 2 having changed nothing. Stating what it replaces (--replaces) makes exactly one of a racing group
    win; without it, the winners form one chain, each replacing the one before."""
    from assay.release import history

    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/m", owner="x", risk_tier="low"))
    for i in range(6):
        create_release(reg, f"r{i}", "acme/m@1")
    env = {**os.environ, **assay_env}
    stated = _race(env, [["promote", f"r{i}", "--env", "dev", "--replaces", "none"] for i in range(6)])
    first = history(reg, "dev")
    free = _race(env, [["promote", f"r{i}", "--env", "dev"] for i in range(6) if f"r{i}" != first[0]["release"]])
    for run in stated + free:
        assert run.returncode in (0, 2) and "Traceback" not in run.stderr, run.stderr[-800:]
        assert run.returncode == 0 or run.stderr.count("\n") == 1, run.stderr
    assert sum(r.returncode == 0 for r in stated) == 1
    assert all(any(w in r.stderr for w in ("--replaces", "changed while", "same moment")) for r in stated if r.returncode)
    assert len(first) == 1
    chain = history(reg, "dev")
    assert len(chain) == 1 + sum(r.returncode == 0 for r in free) >= 2
    assert [d["replaces"] for d in chain] == [None, *(d["release"] for d in chain[:-1])]
    winner = chain[-1]["release"]
    promoted = subprocess.run([sys.executable, "-m", "assay.cli.main", "promote", "r5" if winner != "r5" else "r4",
                               "--env", "dev", "--replaces", "r9"], env=env, capture_output=True, text=True,
                              timeout=300)
    assert promoted.returncode == 2 and f"dev runs {winner}, not r9" in promoted.stderr
