"""The trusted internal copy (issue 14): intake keeps an accepted model's files in the content-addressed store,
``assay pull`` restores them verified, and rollback re-checks the copy when the folder intake read is gone; on
SQLite and PostgreSQL. Every way the copy could lie (a blob altered, a list pointing outside the folder, a file
changed while being kept) is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assay.errors import InputError
from assay.manifest import hash_model
from assay.registry import IntakeRequest, Registry, doctor, intake, pull
from assay.registry._copies import keep, restore
from assay.release import rollback
from tests.fixtures.model_folders import card, write_model
from tests.fixtures.world import build_world


def _assay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def _kept(reg: Registry, ref: str) -> list[dict]:
    from assay.registry import show

    [row] = [e for e in show(reg, ref).evidence if e.kind == "kept-files"]
    return json.loads(reg.blobs.get(row.digest))["files"]


def test_pull_restores_exactly_the_registered_bytes(reg: Registry, assay_env: dict[str, str], tmp_path: Path
                                                    ) -> None:
    folder = write_model(tmp_path / "m", card=card("mit"))
    intake(reg, IntakeRequest(folder, "acme/m", owner="x", risk_tier="low"))
    shutil.rmtree(folder)  # the download folder is gone: the copy is what remains
    run = _assay(assay_env, "pull", "acme/m@1", str(tmp_path / "out"), "--format", "json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert hash_model(tmp_path / "out").identity == doc["identity"] and doc["files"] == len(_kept(reg, "acme/m@1"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    run = _assay(assay_env, "pull", "acme/m@1", str(tmp_path / "busy"))
    assert run.returncode == 2 and "not an empty folder" in run.stderr and run.stderr.count("\n") == 1
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["mine.txt"]


def test_a_shared_file_is_stored_once_and_a_large_model_not_at_all(reg: Registry, tmp_path: Path) -> None:
    a = write_model(tmp_path / "a", card=card("mit"))
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / "extra.txt").write_text("one more file")
    intake(reg, IntakeRequest(a, "acme/m", owner="x", risk_tier="low"))
    intake(reg, IntakeRequest(b, "acme/m"))
    first, second = _kept(reg, "acme/m@1"), _kept(reg, "acme/m@2")
    shared = {f["digest"] for f in first} & {f["digest"] for f in second}
    assert len(shared) == len(first)  # every file of a is in b, stored once
    c = write_model(tmp_path / "c", card=card("mit"), seed=3)
    intake(reg, IntakeRequest(c, "acme/big", owner="x", risk_tier="low", keep_max_bytes=10))
    with pytest.raises(InputError, match="no copy of the files of acme/big@1 was kept"):
        pull(reg, "acme/big@1", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_altered_kept_file_is_never_restored(reg: Registry, tmp_path: Path) -> None:
    folder = write_model(tmp_path / "m", card=card("mit"))
    intake(reg, IntakeRequest(folder, "acme/m", owner="x", risk_tier="low"))
    victim = max(_kept(reg, "acme/m@1"), key=lambda f: f["size"])
    blob = reg.blobs.root / "sha256" / victim["digest"][7:9] / victim["digest"][9:]
    blob.write_bytes(b"\x80\x04cos\nsystem\n.")  # a pickle that would run a command, in place of the weights
    with pytest.raises(InputError, match="was altered"):
        pull(reg, "acme/m@1", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    [problem] = [p for p in doctor(reg) if p.kind == "altered"]
    assert problem.digest == victim["digest"] and f"kept file {victim['path']}" in " ".join(problem.cited_by)


def test_a_list_pointing_outside_the_folder_and_a_file_changed_while_kept(reg: Registry, tmp_path: Path) -> None:
    stored = reg.blobs.put(b"x")
    with pytest.raises(InputError, match="outside"):
        restore(reg.blobs, [{"path": "../escape.txt", "digest": stored.digest, "size": 1}], tmp_path / "t")
    assert not (tmp_path / "escape.txt").exists()
    folder = write_model(tmp_path / "m", card=card("mit"))
    manifest = hash_model(folder)
    big = max(manifest.resources, key=lambda r: (folder / r.name).stat().st_size)
    (folder / big.name).write_bytes(b"swapped after the scan")
    with pytest.raises(InputError, match="changed while it was being taken in"):
        keep(reg.blobs, folder, manifest, 1000, 1 << 30)


def test_rollback_checks_the_kept_copy_when_the_folder_is_gone(reg: Registry, tmp_path: Path) -> None:
    world = build_world(reg, tmp_path)
    shutil.rmtree(tmp_path / "good1")  # r1's folder: gone since intake
    drill = rollback(world, "staging", dry_run=True)
    assert drill.gate.passed and drill.release == "r1"
    [kept] = [f for f in _kept(world, "acme/good@1") if f["path"].endswith(".safetensors")] or \
        [max(_kept(world, "acme/good@1"), key=lambda f: f["size"])]
    blob = world.blobs.root / "sha256" / kept["digest"][7:9] / kept["digest"][9:]
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    refused = rollback(world, "staging", dry_run=True)
    assert not refused.gate.passed


def test_a_single_model_file_is_kept_under_its_name(reg: Registry, tmp_path: Path) -> None:
    folder = write_model(tmp_path / "m", card=card("mit"))
    single = max((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.stat().st_size)
    result = intake(reg, IntakeRequest(single, "acme/one", owner="x", risk_tier="low"))
    assert result.accepted, result.reasons
    pull(reg, "acme/one@1", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [single.name]
    assert (tmp_path / "out" / single.name).read_bytes() == single.read_bytes()
