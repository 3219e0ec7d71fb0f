"""A retrieval assistant is one release (issue 14): an embedder and a generator bound together, judged model by
model, promoted and rolled back as one unit, on SQLite and PostgreSQL; and the binding cannot be edited away."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

import assay
from assay.errors import AssayError
from assay.registry import IntakeRequest, RecordTampered, Registry, intake, verify_audit_log, where
from assay.registry import _logkey as logkey
from assay.release import (
    create_release,
    gate_check,
    grant_role,
    history,
    promote,
    release_report,
    rollback,
    status,
)
from assay.release._service import GateFailed
from tests.fixtures.model_folders import card, write_model
from tests.fixtures.world import trusted_key


@pytest.fixture
def rag(reg: Registry, tmp_path: Path) -> Registry:
    grant_role(reg, "alice", "admin")
    priv, pub = trusted_key(reg, tmp_path)
    for n in (1, 2):
        for name, seed, extra in (("embed", n, {"owner": "search"}), ("gen", 10 + n, {"owner": "assistant",
                                                                                       "keep_max_bytes": 0})):
            folder = write_model(tmp_path / f"{name}{n}", card=card("mit"), seed=seed)
            assay.sign(folder, key=priv)
            intake(reg, IntakeRequest(folder, f"acme/{name}", risk_tier="low", public_key=pub, **extra))
    return reg


def test_a_release_binds_several_models_with_their_roles(rag: Registry) -> None:
    doc = create_release(rag, "rag1", ("embedder=acme/embed@1", "generator=acme/gen@1"))
    assert [(m["role"], m["model"]) for m in doc["models"]] == [("embedder", "acme/embed@1"),
                                                                ("generator", "acme/gen@1")]
    single = create_release(rag, "solo", "acme/embed@1")
    expected = {"artifacts": [], "model": single["identity"], "params": None}
    assert single["digest"] == "sha256:" + hashlib.sha256(json.dumps(expected, sort_keys=True).encode()).hexdigest()
    assert doc["digest"] != single["digest"]
    shown = release_report(rag, "rag1")
    assert [m["model"] for m in shown["models"]] == ["acme/embed@1", "acme/gen@1"]
    with pytest.raises(AssayError, match="named twice"):
        create_release(rag, "dup", ("acme/embed@1", "x=acme/embed@1"))


def test_the_gate_judges_every_model_of_the_release(rag: Registry, tmp_path: Path) -> None:
    intake(rag, IntakeRequest(write_model(tmp_path / "orphan", card=card("mit"), seed=99), "acme/ownerless",
                              risk_tier="low"))
    create_release(rag, "rag-bad", ("embedder=acme/embed@1", "generator=acme/ownerless@1"))
    result, evidence = gate_check(rag, "rag-bad", "dev")
    assert not result.passed
    [owner] = [r for r in result.results if r.id == "owner-set"]
    assert not owner.passed and owner.message.startswith("acme/ownerless@1: ")
    assert [d["model"]["name"] for d in evidence["models"]] == ["acme/embed", "acme/ownerless"]
    with pytest.raises(GateFailed, match="owner-set"):
        promote(rag, "rag-bad", "dev")


def test_models_move_and_roll_back_as_one_unit(rag: Registry, tmp_path: Path) -> None:
    create_release(rag, "rag1", ("embedder=acme/embed@1", "generator=acme/gen@1"))
    create_release(rag, "rag2", ("embedder=acme/embed@2", "generator=acme/gen@2"))
    promote(rag, "rag1", "dev")
    promote(rag, "rag2", "dev")
    assert [m["model"] for m in status(rag, "dev")[0]["active"]["models"]] == ["acme/embed@2", "acme/gen@2"]
    hits = {(h.kind, h.ref) for h in where(rag, "acme/gen@1")}
    assert ("release", "rag1") in hits and ("deployment", "dev#1") in hits
    shutil.rmtree(tmp_path / "gen1")  # the generator of rag1 is gone, and no copy was kept of it
    refused = rollback(rag, "dev", dry_run=True)
    assert not refused.gate.passed
    assert any("acme/gen@1" in r.message for r in refused.gate.failures), [r.message for r in refused.gate.failures]
    write_model(tmp_path / "gen1", card=card("mit"), seed=11)  # the same bytes, restored from a backup
    done = rollback(rag, "dev", reason="rag2 answers off-topic")
    assert done.gate.passed and done.release == "rag1"
    assert [m["model"] for m in status(rag, "dev")[0]["active"]["models"]] == ["acme/embed@1", "acme/gen@1"]
    assert [d["release"] for d in history(rag, "dev")] == ["rag1", "rag2", "rag1"]


def test_a_model_edited_out_of_a_release_stops_everything_that_reads_it(rag: Registry) -> None:
    create_release(rag, "rag1", ("embedder=acme/embed@1", "generator=acme/gen@1"))
    with rag.engine.begin() as conn:
        conn.execute(text("DELETE FROM release_models WHERE role = 'generator'"))
    with pytest.raises(RecordTampered, match="release_models"):
        gate_check(rag, "rag1", "dev")
    with pytest.raises(RecordTampered):
        release_report(rag, "rag1")
    with rag.snapshot() as session:
        report = verify_audit_log(session, logkey.log_verifier(rag.home))
    assert not report.ok and any("release_models" in p.message for p in report.problems)
