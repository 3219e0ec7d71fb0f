"""References resolve one way for every kind and every caller (``assay.registry._refs``), on SQLite and PostgreSQL.

The bug this guards: ``assay where support/tools@1`` answered "no dataset" for an artifact named support/tools,
because ``where`` guessed the kind from whether a model of that name existed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.errors import AssayError
from assay.registry import (
    IntakeRequest,
    NotFound,
    Registry,
    add_artifact,
    intake,
    list_models,
    register_dataset,
    show,
    where,
)
from assay.registry._refs import find_artifact, find_dataset, find_release, find_version, parse_ref, resolve
from assay.registry._schema import DatasetRow
from assay.registry._store import now
from assay.release._service import create_release
from tests.fixtures.model_folders import card, write_model


def _hits(reg: Registry, query: str) -> set[tuple[str, str, str]]:
    return {(h.kind, h.ref, h.relation) for h in where(reg, query)}


def _artifact(reg: Registry, tmp_path: Path, name: str, text: str, kind: str = "tool-schema") -> str:
    path = tmp_path / f"{abs(hash((name, text)))}.json"
    path.write_text(text)
    return add_artifact(reg, path, kind=kind, name=name).digest


def _dataset(reg: Registry, tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / f"ds-{abs(hash((name, text)))}"
    folder.mkdir()
    (folder / "train.jsonl").write_text(text)
    register_dataset(reg, folder, name=name)


def test_parse_ref_selectors() -> None:
    assert parse_ref("org/m").bare
    assert parse_ref("org/m@3").number == 3 and not parse_ref("org/m@3").bare
    assert parse_ref("org/m@latest").latest
    assert parse_ref("org/m@ABCDEF12").prefix == "sha256:abcdef12"
    assert parse_ref("org/m@99999999999999999999999").number == -1
    for bad in ("org/m@", "org/m@\u00b2", "org/m@%", "org/m@newest"):
        with pytest.raises(NotFound):
            parse_ref(bad)


def test_where_an_artifact_reference_answers_with_the_artifact(reg: Registry, tmp_path: Path) -> None:
    digest = _artifact(reg, tmp_path, "support/tools", '{"tools": []}')
    assert _hits(reg, "support/tools@1") == {("artifact", "support/tools@1", "tool-schema content")}
    assert _hits(reg, "support/tools") == _hits(reg, "support/tools@latest") == _hits(reg, "support/tools@1")
    assert _hits(reg, f"support/tools@{digest[7:19]}") == _hits(reg, "support/tools@1")
    with pytest.raises(NotFound, match="no artifact 'support/tools@2'"):
        where(reg, "support/tools@2")


def test_where_a_model_reference_of_the_same_shape_answers_with_the_version(reg: Registry, tmp_path: Path) -> None:
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "support/tools"))
    assert _hits(reg, "support/tools@1") == {("version", "support/tools@1", "identity")}
    assert _hits(reg, "support/tools") == _hits(reg, "support/tools@latest") == _hits(reg, "support/tools@1")
    with pytest.raises(NotFound, match="no version 'support/tools@2'"):
        where(reg, "support/tools@2")


def test_where_a_dataset_reference_with_or_without_a_version(reg: Registry, tmp_path: Path) -> None:
    _dataset(reg, tmp_path, "support/tickets", "a\n")
    _dataset(reg, tmp_path, "support/tickets", "b\n")
    assert _hits(reg, "support/tickets@1") == {("dataset", "support/tickets@1", "identity")}
    assert _hits(reg, "support/tickets") == {("dataset", "support/tickets@2", "identity")}  # the newest
    assert _hits(reg, "support/tickets@latest") == _hits(reg, "support/tickets")


def test_where_a_release_name_answers_with_the_release(reg: Registry, tmp_path: Path) -> None:
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/m"))
    _artifact(reg, tmp_path, "acme/prompt", "Be brief.", kind="system-prompt")
    create_release(reg, "support-bot-1", "acme/m@1", artifacts=("system-prompt:acme/prompt@1",))
    assert _hits(reg, "support-bot-1") == {("release", "support-bot-1", "uses acme/m@1")}
    assert ("release", "support-bot-1", "includes system-prompt acme/prompt@1") in _hits(reg, "acme/prompt@1")
    assert ("release", "support-bot-1", "uses acme/m@1") in _hits(reg, "acme/m@1")
    with pytest.raises(NotFound, match="no model, no dataset, no artifact and no release named 'support-bot-1@1'"):
        where(reg, "support-bot-1@1")  # releases are named, not numbered


def test_a_name_shared_by_several_kinds_answers_for_each(reg: Registry, tmp_path: Path) -> None:
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "shared"))
    _artifact(reg, tmp_path, "shared", "{}")
    _dataset(reg, tmp_path, "shared", "x\n")
    assert {(k, r) for k, r, _ in _hits(reg, "shared@1")} == {("version", "shared@1"), ("dataset", "shared@1"),
                                                              ("artifact", "shared@1")}


def test_a_reference_to_nothing_is_one_not_found(reg: Registry) -> None:
    with pytest.raises(NotFound) as caught:
        where(reg, "no/such@1")
    assert "no dataset" in str(caught.value) and "no artifact" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(NotFound, match="8 hex digits"):
        where(reg, "no/such@%")


def test_an_ambiguous_prefix_is_refused_for_every_kind(reg: Registry, tmp_path: Path) -> None:
    with reg.write() as session:  # two identities that share their first 12 hex digits
        for number, tail in ((1, "0" * 52), (2, "1" * 52)):
            session.add(DatasetRow(name="twins", number=number, identity="sha256:abcdef012345" + tail, file_count=1,
                                   total_bytes=1, manifest_digest="sha256:" + "2" * 64, created_by="alice",
                                   created_at=now()))
    with reg.snapshot() as session:
        assert find_dataset(session, "twins@abcdef0123450").number == 1
        with pytest.raises(NotFound, match="ambiguous"):
            find_dataset(session, "twins@abcdef012345")
        with pytest.raises(NotFound, match="ambiguous"):
            resolve(session, "twins@abcdef012345")


def test_latest_is_the_newest_version_whatever_its_status(reg: Registry, tmp_path: Path) -> None:
    from tests.fixtures.model_folders import write_malicious

    intake(reg, IntakeRequest(write_model(tmp_path / "ok", card=card("mit")), "acme/m"))
    intake(reg, IntakeRequest(write_malicious(tmp_path / "evil"), "acme/m", record_rejected=True))
    assert show(reg, "acme/m").number == 1  # a bare name: the newest accepted version
    assert show(reg, "acme/m@latest").number == 2 and show(reg, "acme/m@latest").status == "rejected"


def test_every_caller_resolves_the_same_way(reg: Registry, tmp_path: Path) -> None:
    """Intake (base models and datasets named on cards and training records), releases and rollback use refs."""
    base = intake(reg, IntakeRequest(write_model(tmp_path / "base", card=card("mit")), "acme/base")).version
    _dataset(reg, tmp_path, "corpus", "a\n")
    _dataset(reg, tmp_path, "corpus", "b\n")
    training = tmp_path / "training.json"
    training.write_text(json.dumps({"base_model": f"acme/base@{base.identity[7:19]}", "datasets": ["corpus@1"]}))
    tuned = intake(reg, IntakeRequest(write_model(tmp_path / "tuned", card=card("mit"), seed=1), "acme/tuned",
                                      training=training, datasets=("corpus@latest",))).version
    parents = {(p.kind, p.name, p.registered) for p in tuned.parents}
    assert {("model", "acme/base@1", True), ("dataset", "corpus@1", True), ("dataset", "corpus@2", True)} <= parents
    digest = _artifact(reg, tmp_path, "acme/tools", "{}")
    doc = create_release(reg, "r1", f"acme/tuned@{tuned.identity[7:19]}",
                         artifacts=(f"tool-schema:acme/tools@{digest[7:19]}",))
    assert doc["model"] == "acme/tuned@1" and doc["artifacts"][0]["name"] == "acme/tools@1"
    with reg.snapshot() as session:
        assert find_version(session, "acme/tuned@latest")[1].number == 1
        assert find_artifact(session, "acme/tools").digest == digest
        assert find_release(session, "r1").name == "r1"
        for missing in ("r2", "r1@1", "bad name"):
            with pytest.raises(NotFound, match="no release named"):
                find_release(session, missing)


def test_reads_never_wait_for_a_writer(reg: Registry, tmp_path: Path) -> None:
    """A read-only snapshot begins deferred on SQLite (WAL): it answers while a write transaction is open."""
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/m"))
    with reg.write() as session:
        session.add(DatasetRow(name="pending", number=1, identity="sha256:" + "3" * 64, file_count=1, total_bytes=1,
                               manifest_digest="sha256:" + "4" * 64, created_by="alice", created_at=now()))
        session.flush()
        assert [m.name for m in list_models(reg)] == ["acme/m"]
        with pytest.raises(AssayError):
            where(reg, "pending@1")  # not committed yet: invisible to other readers


def test_where_cli_answers_for_an_artifact_reference(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"}, "ASSAY_HOME": str(tmp_path / "home"),
           "ASSAY_ACTOR": "alice"}

    def assay(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    schema = tmp_path / "tools.json"
    schema.write_text('{"tools": []}')
    assert assay("artifact", "add", str(schema), "--kind", "tool-schema", "--name", "support/tools").returncode == 0
    found = assay("where", "support/tools@1")
    assert found.returncode == 0 and found.stdout == "artifact    support/tools@1  tool-schema content\n", found.stderr
    doc = json.loads(assay("where", "support/tools@1", "--format", "json").stdout)
    assert doc["hits"] == [{"kind": "artifact", "ref": "support/tools@1", "relation": "tool-schema content"}]
    missing = assay("where", "support/tools@2")
    assert missing.returncode == 2 and missing.stderr == "assay: error: no artifact 'support/tools@2' (add it with " \
        "`assay artifact add`)\n"
