"""The questions of an incident, answered by commands (issue 14): what ran where (now and at a moment), which
release, model, prompt and tool schema, who approved, which gates passed, where else an artifact or a dataset is
deployed, and what the log says happened; on SQLite and PostgreSQL, through the command line a person types."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assay.registry import Registry, register_dataset
from tests.fixtures.world import acting, build_world


@pytest.fixture
def world(reg: Registry, tmp_path: Path) -> Registry:
    return build_world(reg, tmp_path)


def _json(env: dict[str, str], *args: str, code: int = 0) -> Any:
    run = subprocess.run([sys.executable, "-m", "assay.cli.main", *args, "--format", "json"], capture_output=True,
                         text=True, timeout=300, env={**os.environ, **env})
    assert run.returncode == code, (args, run.stdout[-800:], run.stderr[-800:])
    return json.loads(run.stdout) if code == 0 else run.stderr


def test_release_show_answers_what_is_in_a_release_and_where_it_runs(world: Registry, assay_env: dict[str, str]
                                                                     ) -> None:
    doc = _json(assay_env, "release", "show", "r2")
    assert doc["schema"] == "assay.release-show/1.0" and doc["models"][0]["model"] == "acme/good@2"
    assert doc["models"][0]["signature"] == "verified" and doc["revoked"] is None
    assert sorted((a["environment"], a["approver"]) for a in doc["approvals"]) == [
        ("production", "bob"), ("production", "carol"), ("staging", "bob"), ("staging", "carol")]
    assert [(d["environment"], d["action"], d["gate_passed"]) for d in doc["deployments"]] == [
        ("dev", "promote", True), ("staging", "promote", True), ("production", "promote", True)]
    assert doc["active_in"] == {"staging": "active"}  # u1 replaced it in dev; production went back to r1
    u1 = _json(assay_env, "release", "show", "u1")
    assert [(a["kind"], a["name"]) for a in u1["artifacts"]] == [("prompt", "support/prompt@1")]
    revoked = _json(assay_env, "release", "revoke", "r2", "--reason", "CVE-2026-0001 in the tokenizer", "--actor",
                    "bob")
    assert [(d["environment"], d["state"]) for d in revoked["still_active"]] == [("staging", "active")]
    assert _json(assay_env, "release", "show", "r2")["revoked"]["reason"] == "CVE-2026-0001 in the tokenizer"


def test_approvals_and_waivers_listings(world: Registry, assay_env: dict[str, str]) -> None:
    rows = _json(assay_env, "approvals", "--release", "r1", "--env", "production")["approvals"]
    assert sorted(a["approver"] for a in rows) == ["bob", "carol"]
    assert len(_json(assay_env, "approvals")["approvals"]) == 8
    assert _json(assay_env, "waivers")["waivers"] == []
    from assay.release import waive

    waive(acting(world, "bob"), "owner-set", "u1", "staging", reason="owner leaves Friday",
          expires=datetime.now().astimezone() + timedelta(days=3))
    [w] = _json(assay_env, "waivers", "--env", "staging")["waivers"]
    assert (w["rule"], w["release"], w["approver"], w["expired"]) == ("owner-set", "u1", "bob", False)
    assert _json(assay_env, "waivers", "--env", "production")["waivers"] == []


def test_status_at_a_moment_shows_what_ran_then(world: Registry, assay_env: dict[str, str]) -> None:
    production = [d for d in _json(assay_env, "history", "--env", "production")["deployments"]]
    assert [d["release"] for d in production] == ["r1", "r2", "r1"]
    between = datetime.fromisoformat(production[1]["since"]) - timedelta(microseconds=1)
    then = _json(assay_env, "status", "--env", "production", "--at", between.isoformat())
    assert then["environments"][0]["active"]["release"] == "r1" and then["at"].startswith(between.isoformat()[:19])
    during = _json(assay_env, "status", "--env", "production", "--at", production[1]["since"])
    assert during["environments"][0]["active"]["release"] == "r2"
    before = _json(assay_env, "status", "--at", "2000-01-01")
    assert all(e["active"] is None for e in before["environments"])
    now = _json(assay_env, "status", "--env", "production")["environments"][0]["active"]
    assert now["release"] == "r1" and now["action"] == "rollback" and now["replaces"] == "r2"


def test_where_follows_artifacts_datasets_and_files_to_deployments(world: Registry, assay_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    for query in ("support/prompt@1", "prompt:support/prompt@1"):
        hits = {(h["kind"], h["ref"], h["relation"]) for h in _json(assay_env, "where", query)["hits"]}
        assert ("release", "u1", "includes prompt support/prompt@1") in hits
        assert any(k == "deployment" and r.startswith("dev#") and "u1 (active)" in rel for k, r, rel in hits), hits
    assert "is a prompt, not a tool-schema" in _json(assay_env, "where", "tool-schema:support/prompt@1", code=2)
    with world.snapshot() as session:
        digest = session.execute(text("SELECT f.digest FROM version_files f JOIN model_versions v ON v.id = "
                                      "f.version_id WHERE v.number = 2 ORDER BY f.id")).first()[0]
    hits = _json(assay_env, "where", digest)["hits"]
    assert {"kind": "deployment", "ref": "production#2", "relation": "promote of r2 (since replaced)"} in hits
    shown = _json(assay_env, "artifact", "show", "support/prompt")
    assert shown["kind"] == "prompt" and shown["releases"][0]["release"] == "u1"
    assert shown["releases"][0]["deployments"][0]["state"] == "active"
    assert [a["artifact"] for a in _json(assay_env, "artifact", "list", "--kind", "prompt")["artifacts"]] == [
        "support/prompt@1"]
    data = tmp_path / "tickets"
    data.mkdir()
    (data / "t.jsonl").write_text('{"q": "hi"}\n')
    register_dataset(world, data, name="support/tickets", license="CC-BY-4.0")
    listed = _json(assay_env, "dataset", "list")["datasets"]
    assert [(d["dataset"], d["license"]) for d in listed] == [("support/tickets@1", "CC-BY-4.0")]
    assert _json(assay_env, "dataset", "show", "support/tickets@1")["models"] == []


def test_audit_log_answers_who_did_what_where_and_when(world: Registry, assay_env: dict[str, str]) -> None:
    promoted = _json(assay_env, "audit", "log", "--kind", "promote", "--env", "production")["entries"]
    assert [e["payload"]["release"] for e in promoted] == ["r1", "r2"]
    by_bob = _json(assay_env, "audit", "log", "--actor", "bob")["entries"]
    assert by_bob and {e["kind"] for e in by_bob} == {"approval"}
    about = _json(assay_env, "audit", "log", "--release", "r2", "--kind", "rollback")["entries"]
    assert about == []  # the rollback's release is r1; it replaced r2
    rolled = _json(assay_env, "audit", "log", "--kind", "rollback")["entries"]
    assert [(e["payload"]["release"], e["payload"]["replaces"]) for e in rolled] == [("r1", "r2")]
    newest = _json(assay_env, "audit", "log", "--limit", "1")
    assert len(newest["entries"]) == 1 and newest["truncated"] is True
    assert _json(assay_env, "audit", "log", "--since", "2999-01-01")["entries"] == []
    assert len(_json(assay_env, "audit", "log", "--until", "2000-01-01")["entries"]) == 0


def test_the_incident_reads_refuse_rows_and_entries_changed_outside_assay(world: Registry,
                                                                          assay_env: dict[str, str]) -> None:
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE approvals SET approver = 'mallory' WHERE id = 1"))
    assert "changed outside assay" in _json(assay_env, "approvals", code=1)
    assert "changed outside assay" in _json(assay_env, "release", "show", "r1", code=1)
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET body = replace(body, '\"bob\"', '\"eve\"') WHERE kind = "
                          "'approval'"))
    assert "changed outside assay" in _json(assay_env, "audit", "log", "--kind", "approval", code=1)


def test_taking_things_out_a_canary_aborted_and_a_rollback_with_its_reason(world: Registry,
                                                                           assay_env: dict[str, str]) -> None:
    from assay.release import promote

    promote(world, "r2", "production", canary=10)
    live = _json(assay_env, "status", "--env", "production")["environments"][0]
    assert (live["active"]["release"], live["canary"]["release"]) == ("r1", "r2")
    aborted = _json(assay_env, "canary", "abort", "--env", "production", "--reason", "error rate 4x")
    assert (aborted["aborted"], aborted["release"]) == ("r2", "r1")
    live = _json(assay_env, "status", "--env", "production")["environments"][0]
    assert live["canary"] is None and live["active"]["release"] == "r1" and live["active"]["action"] == "abort"
    assert "no canary is running in production" in _json(assay_env, "canary", "abort", "--env", "production",
                                                         "--reason", "again", code=2)
    [entry] = _json(assay_env, "audit", "log", "--kind", "canary-abort")["entries"]
    assert entry["payload"]["reason"] == "error rate 4x" and entry["payload"]["aborted"] == "r2"
    rolled = _json(assay_env, "rollback", "--env", "staging", "--reason", "r2 leaks PII in tool calls")
    assert (rolled["release"], rolled["replaced"]) == ("r1", "r2")
    newest = _json(assay_env, "audit", "log", "--kind", "rollback", "--env", "staging")["entries"]
    assert [e["payload"]["reason"] for e in newest] == ["r2 leaks PII in tool calls"]
    assert "INTACT" in subprocess.run([sys.executable, "-m", "assay.cli.main", "audit", "verify"], capture_output=True,
                                      text=True, timeout=300, env={**os.environ, **assay_env}).stdout
