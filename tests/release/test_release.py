"""Releases, gates, approvals, waivers, promotion, canaries, rollback and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import assay
from assay.errors import UsageError
from assay.registry import IntakeRequest, RecordTampered, Registry, intake, where  # noqa: F401
from assay.registry import _auditlog as auditlog
from assay.registry import _auditread as auditread
from assay.registry import _logkey as logkey
from assay.release import grant_role, history, list_roles, rollback, set_policy, status
from assay.release._service import (
    ConcurrentChange,
    GateFailed,
    _commit_deployment,
    approve,
    create_release,
    gate_check,
    promote,
    waive,
)
from tests.fixtures.model_folders import card, write_model
from tests.fixtures.world import trusted_key


def _as(reg: Registry, who: str) -> Registry:
    return Registry(reg.engine, reg.blobs, who, reg.home)


def _approvers(reg: Registry, *names: str) -> None:
    """``reg``'s actor becomes the first admin (if nobody is yet) and grants the approver role to ``names``."""

    if not any("admin" in held for held in list_roles(reg).values()):
        grant_role(reg, reg.actor, "admin")
    for name in names:
        grant_role(reg, name, "approver")


@pytest.fixture
def two_releases(reg: Registry, tmp_path: Path) -> Registry:
    """Two signed versions of acme/classifier (key trusted), released as r1 and r2 by alice, approved by bob+carol.
    alice is the first admin and made herself, bob and carol approvers."""
    _approvers(reg, "alice", "bob", "carol")
    priv, pub = trusted_key(reg, tmp_path)
    for n in (1, 2):
        folder = write_model(tmp_path / f"v{n}", card=card("apache-2.0", base_model="acme/base"), seed=n)
        assay.sign(folder, key=priv)
        result = intake(reg, IntakeRequest(folder, "acme/classifier", owner="ml-platform", risk_tier="medium",
                                           public_key=pub))
        assert result.accepted and result.version.signature_status == "verified"
        create_release(reg, f"r{n}", f"acme/classifier@{n}")
    for who in ("bob", "carol"):
        for env in ("staging", "production"):
            for rel in ("r1", "r2"):
                approve(_as(reg, who), rel, env)
    return reg


def _active(reg: Registry, env: str) -> str | None:
    row = next(r for r in status(reg) if r["environment"] == env)
    return row["active"]["release"] if row["active"] else None


def test_walkthrough_promote_canary_rollback(two_releases: Registry) -> None:
    reg = two_releases
    with pytest.raises(UsageError, match="cannot approve"):
        approve(reg, "r1", "staging")  # alice submitted it
    for env in ("dev", "staging", "production"):
        assert promote(reg, "r1", env).gate.passed
    with pytest.raises(GateFailed, match="promoted-through-previous"):
        promote(reg, "r2", "production")  # not yet active in staging
    assert _active(reg, "production") == "r1" and len(history(reg, "production")) == 1
    promote(reg, "r2", "dev")
    promote(reg, "r2", "staging")
    canary = promote(reg, "r2", "production", canary=10)
    prod = next(r for r in status(reg) if r["environment"] == "production")
    assert prod["active"]["release"] == "r1" and prod["canary"]["release"] == "r2"
    assert prod["canary"]["traffic_percent"] == 10 and canary.action == "canary"
    full = promote(reg, "r2", "production")
    assert full.replaced == "r1" and _active(reg, "production") == "r2"
    drill = rollback(reg, "production", dry_run=True)
    assert drill.dry_run and drill.gate.passed and drill.release == "r1"
    assert _active(reg, "production") == "r2"  # a fire drill changes nothing
    done = rollback(reg, "production")
    assert done.release == "r1" and _active(reg, "production") == "r1"
    assert [d["action"] for d in history(reg, "production")] == ["promote", "canary", "promote", "rollback"]
    kinds = {(h.kind, h.ref) for h in where(reg, "acme/classifier@1")}
    assert ("release", "r1") in kinds and ("deployment", "production#4") in kinds
    with reg.read() as session:
        report = auditread.verify(session, logkey.log_verifier(reg.home))
    assert report.ok and report.size >= 20 and report.checkpoints >= 1


def test_gate_failure_leaves_the_environment_untouched_and_is_logged(reg: Registry, tmp_path: Path) -> None:
    folder = write_model(tmp_path / "m", card=card("cc-by-nc-4.0"))
    intake(reg, IntakeRequest(folder, "acme/nc", owner="x", risk_tier="low"))
    create_release(reg, "nc1", "acme/nc@1")
    with reg.read() as session:
        before = session.execute(text("SELECT count(*) FROM audit_entries")).scalar()
    with pytest.raises(GateFailed, match="approvals-production|license-allowed-production"):
        promote(reg, "nc1", "production")
    assert _active(reg, "production") is None and history(reg, "production") == []
    with reg.read() as session:
        kinds = [k for (k,) in session.execute(text("SELECT kind FROM audit_entries ORDER BY idx"))]
    assert len(kinds) == before + 1 and kinds[-1] == "promote-refused"
    result, evidence = gate_check(reg, "nc1", "production")
    assert not result.passed and evidence["license"]["class"] == "non-commercial"
    assert {r.id for r in result.failures} >= {"license-allowed-production", "approvals-production",
                                               "signature-trusted"}


def test_waivers_apply_to_one_rule_release_and_environment_until_they_expire(reg: Registry, tmp_path: Path) -> None:
    _approvers(reg, "alice", "bob", "carol")
    folder = write_model(tmp_path / "m", card=card("mit"))
    intake(reg, IntakeRequest(folder, "acme/unsigned", owner="x", risk_tier="low"))
    create_release(reg, "u1", "acme/unsigned@1")
    promote(reg, "u1", "dev")
    approve(_as(reg, "bob"), "u1", "staging")
    result, _ = gate_check(reg, "u1", "staging")
    assert [r.id for r in result.failures if r.blocking] == ["signature-trusted"]
    with pytest.raises(UsageError, match="cannot waive"):
        waive(reg, "signature-trusted", "u1", "staging", reason="r", expires=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(UsageError, match="no rule"):
        waive(_as(reg, "carol"), "no-such-rule", "u1", "staging", reason="r",
              expires=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(UsageError, match="at most"):
        waive(_as(reg, "carol"), "signature-trusted", "u1", "staging", reason="r",
              expires=datetime.now(UTC) + timedelta(days=400))
    expires = datetime.now(UTC) + timedelta(seconds=3)
    waive(_as(reg, "carol"), "signature-trusted", "u1", "staging", reason="signing service down, INC-42",
          expires=expires)
    assert gate_check(reg, "u1", "staging")[0].passed
    assert not gate_check(reg, "u1", "production")[0].passed  # another environment: not waived
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)  # time passes: the waiver expires
    result, _ = gate_check(reg, "u1", "staging")
    assert not result.passed and "expired" in next(r.message for r in result.results if r.id == "signature-trusted")


def test_rollback_refuses_a_target_whose_files_changed(two_releases: Registry, tmp_path: Path) -> None:
    reg = two_releases
    for rel in ("r1", "r2"):
        for env in ("dev", "staging", "production"):
            promote(reg, rel, env)
    (tmp_path / "v1" / "config.json").write_text('{"model_type": "tampered"}')
    drill = rollback(reg, "production", dry_run=True)
    assert not drill.gate.passed
    with pytest.raises(GateFailed, match="target-files-match"):
        rollback(reg, "production")
    assert _active(reg, "production") == "r2"


def test_a_stale_promotion_loses_the_race_and_changes_nothing(two_releases: Registry) -> None:
    reg = two_releases
    promote(reg, "r1", "dev")
    result, evidence = gate_check(reg, "r2", "dev")
    stale_seq = 1  # what a promotion that started before the next one committed had seen
    promote(reg, "r2", "dev")  # the other promotion wins
    with pytest.raises(ConcurrentChange, match="changed while"):
        _commit_deployment(reg, "dev", stale_seq, 1, "promote", 100, result, "sha256:x", evidence, [], {})
    assert [d["release"] for d in history(reg, "dev")] == ["r1", "r2"]


_RACE = """
import sys
from assay.config import load_settings
from assay.registry import Registry
from assay.errors import UsageError
from assay.release._service import ConcurrentChange, promote
reg = Registry.open(load_settings())
try:
    promote(reg, sys.argv[1], "dev")
    print("won")
except ConcurrentChange as exc:
    print("lost", exc)
except UsageError as exc:  # the same release won already: promoting it again is refused
    assert "already active" in str(exc), exc
    print("noop", exc)
"""


def test_racing_promotions_from_processes(two_releases: Registry, assay_env: dict[str, str]) -> None:
    env = {**os.environ, **assay_env}
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, rel], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rel in ("r1", "r2", "r1", "r2")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    won = sum(o[0].startswith("won") for o in outs)
    seqs = [d["seq"] for d in history(two_releases, "dev")]
    assert won == len(seqs) >= 1 and seqs == list(range(1, len(seqs) + 1))
    assert all(o[0].startswith(("won", "lost", "noop")) for o in outs)
    with two_releases.read() as session:
        assert auditread.verify(session, logkey.log_verifier(two_releases.home)).ok


@pytest.mark.parametrize("tamper", ["edit-body", "edit-body-and-leaf", "delete", "reorder"])
def test_audit_verify_names_tampering_done_directly_in_the_database(two_releases: Registry, tamper: str) -> None:
    reg = two_releases
    promote(reg, "r1", "dev")
    with reg.read() as session:
        assert auditread.verify(session, logkey.log_verifier(reg.home)).ok
    with reg.write() as session:  # the first approval (by bob): an entry a forger would want to change
        idx = session.execute(text("SELECT min(idx) FROM audit_entries WHERE kind = 'approval'")).scalar()
        if tamper == "edit-body":
            session.execute(text("UPDATE audit_entries SET body = replace(body, 'bob', 'eve') WHERE idx = :i"), {"i": idx})
        elif tamper == "edit-body-and-leaf":
            from assay.audit import leaf_hash

            body = session.execute(text("SELECT body FROM audit_entries WHERE idx = :i"), {"i": idx}).scalar()
            forged = body.replace("bob", "eve")
            session.execute(text("UPDATE audit_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                            {"b": forged, "h": leaf_hash(forged.encode()).hex(), "i": idx})
        elif tamper == "delete":
            session.execute(text("DELETE FROM audit_entries WHERE idx = :i"), {"i": idx})
        else:
            a = session.execute(text("SELECT body, leaf_hash FROM audit_entries WHERE idx = :i"), {"i": idx}).one()
            b = session.execute(text("SELECT body, leaf_hash FROM audit_entries WHERE idx = :i"), {"i": idx + 1}).one()
            session.execute(text("UPDATE audit_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                            {"b": b[0], "h": b[1], "i": idx})
            session.execute(text("UPDATE audit_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                            {"b": a[0], "h": a[1], "i": idx + 1})
    with reg.read() as session:
        report = auditread.verify(session, logkey.log_verifier(reg.home))
    assert not report.ok
    first = report.problems[0]
    expected = {"edit-body": "altered-entry", "edit-body-and-leaf": "root-mismatch", "delete": "missing-entry",
                "reorder": "misplaced-entry"}[tamper]
    assert first.kind == expected, report.problems
    if tamper != "edit-body-and-leaf":
        assert first.entry == idx
    else:
        assert "between" in first.message


def test_exported_bundle_verifies_offline_and_detects_tampering(two_releases: Registry, tmp_path: Path) -> None:
    import json
    import zipfile

    from assay.audit import verify_bundle

    reg = two_releases
    promote(reg, "r1", "dev")
    bundle = tmp_path / "audit.zip"
    with reg.read() as session:
        counts = auditread.export(session, reg.blobs, reg.home, bundle)
    assert counts["entries"] > 10 and counts["evidence"] > 0
    pub = reg.home / "keys" / "audit-log.pub.pem"
    assert verify_bundle(bundle, public_key=pub).ok
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "entries.jsonl":
                lines = data.decode().splitlines()
                entry = json.loads(lines[3])
                entry["body"] = entry["body"].replace("alice", "mallory")
                lines[3] = json.dumps(entry)
                data = ("\n".join(lines) + "\n").encode()
            dst.writestr(item, data)
    report = verify_bundle(forged, public_key=pub)
    assert not report.ok and report.problems[0].entry == 3
    other_key = tmp_path / "other.pub.pem"
    from assay.audit import generate_key, public_key_pem

    other_key.write_bytes(public_key_pem(generate_key()))
    assert not verify_bundle(bundle, public_key=other_key).ok
    # The attacker's easier path: edit an entry, recompute its leaf, and drop every checkpoint and proof.
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(stripped, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "proofs.jsonl":
                continue
            if item.filename == "checkpoints.json":
                data = b"[]"
            if item.filename == "entries.jsonl":
                lines = data.decode().splitlines()
                entry = json.loads(lines[3])
                entry["body"] = entry["body"].replace("alice", "mallory")
                entry["leaf"] = hashlib.sha256(b"\x00" + entry["body"].encode()).hexdigest()
                lines[3] = json.dumps(entry)
                data = ("\n".join(lines) + "\n").encode()
            dst.writestr(item, data)
    report = verify_bundle(stripped, public_key=pub)
    assert not report.ok and [p.kind for p in report.problems] == ["uncovered-entry", "missing-proof"], report
    assert report.problems[0].entry == 0


def test_release_refuses_rejected_versions_and_unknown_parts(reg: Registry, tmp_path: Path) -> None:
    from tests.fixtures.model_folders import write_malicious

    intake(reg, IntakeRequest(write_malicious(tmp_path / "evil"), "evil/m", record_rejected=True))
    with pytest.raises(UsageError, match="rejected"):
        create_release(reg, "bad", "evil/m@1")
    intake(reg, IntakeRequest(write_model(tmp_path / "ok", card=card("mit")), "ok/m"))
    with pytest.raises(assay.errors.AssayError, match="no artifact"):
        create_release(reg, "r", "ok/m@1", artifacts=("prompt:missing@1",))
    doc = create_release(reg, "r", "ok/m@1")
    with pytest.raises(UsageError, match="immutable"):
        create_release(reg, "r", "ok/m@1")
    assert doc["digest"].startswith("sha256:")
    # The release digest is content-addressed: the model identity, parameters and artifacts, not the name.
    canon = json.dumps({"model": doc["identity"], "params": None, "artifacts": []}, sort_keys=True)
    assert doc["digest"] == "sha256:" + hashlib.sha256(canon.encode()).hexdigest()
    assert create_release(reg, "r-same-parts", "ok/m@1")["digest"] == doc["digest"]
    result, evidence = gate_check(reg, "r", "dev")
    assert dataclasses.is_dataclass(result)
    assert evidence["release"]["name"] == "r" and evidence["deployment"]["environment"] == "dev"
    # ok/m was taken in with no owner and no lineage: the gate says so by rule, even for dev.
    assert not result.passed and sorted(r.id for r in result.failures) == ["lineage-complete", "owner-set"]


def test_stale_evidence_blocks_until_the_model_is_inspected_again(two_releases: Registry, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.registry import _store

    reg = two_releases
    promote(reg, "r1", "dev")
    with monkeypatch.context() as clock:  # the newest inspection was made 40 days ago
        clock.setattr(_store, "now", lambda: datetime.now(UTC) - timedelta(days=40))
        intake(reg, IntakeRequest(tmp_path / "v1", "acme/classifier"))
    result, evidence = gate_check(reg, "r1", "staging")
    assert evidence["evidence_age_days"] > 39 and [r.id for r in result.failures if r.blocking] == ["evidence-fresh"]
    again = intake(reg, IntakeRequest(tmp_path / "v1", "acme/classifier"))  # same bytes: fresh scan evidence
    assert not again.created and again.version.number == 1
    result, evidence = gate_check(reg, "r1", "staging")
    assert result.passed and evidence["evidence_age_days"] < 1


def test_every_inclusion_proof_verifies_against_its_signed_checkpoint(two_releases: Registry) -> None:
    from assay.audit import InclusionProof, NoteVerifier, parse_checkpoint, verify_inclusion

    reg = two_releases
    with reg.write() as session:  # 40 more entries, so proofs cross several levels of stored subtrees
        for i in range(40):
            auditlog.append(session, "test", "alice", {"n": i})
        auditlog.checkpoint(session, reg.home, "alice")
    verifier: NoteVerifier = logkey.log_verifier(reg.home)
    with reg.read() as session:
        size = session.execute(text("SELECT size FROM audit_state")).scalar()
        for index in range(size):
            doc = auditread.proof(session, index)
            proof = InclusionProof.from_json(doc["proof"])
            checkpoint = parse_checkpoint(doc["checkpoint"], verifier)
            assert checkpoint.size == proof.size and checkpoint.root.hex() == doc["root"]
            verify_inclusion(bytes.fromhex(doc["leaf"]), index, proof.size, proof.hashes, checkpoint.root)
        nodes = session.execute(text("SELECT count(*) FROM audit_nodes")).scalar()
    assert nodes == size - bin(size).count("1")  # one stored node per merge: proofs read O(log n) rows


def test_a_new_policy_is_logged_when_it_first_decides(two_releases: Registry, tmp_path: Path) -> None:
    from assay.release.policy import load_default_policy, load_policy

    reg = two_releases
    promote(reg, "r1", "dev")  # the first gate decision: policy-changed from nothing to the default
    custom = tmp_path / "strict.yaml"
    custom.write_text("version: 1\nrules:\n  - id: owner-set\n    description: every model has an owner\n"
                      "    severity: deny\n    expr: evidence.model.owner != null\n")
    set_policy(reg, custom, ("dev",))  # alice is the admin: the policy of dev is registered, not passed in
    promote(reg, "r2", "dev")
    with reg.read() as session:
        rows = [json.loads(b)["payload"] for (b,) in session.execute(
            text("SELECT body FROM audit_entries WHERE kind = 'policy-changed' ORDER BY idx"))]
    assert [r["to"] for r in rows] == [load_default_policy().digest, load_policy(custom).digest]
    assert rows[0]["from"] is None and rows[1]["from"] == load_default_policy().digest


def test_eval_results_in_an_eval_set_artifact_are_judged(reg: Registry, tmp_path: Path) -> None:
    from assay.registry import add_artifact

    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/evaluated", owner="x",
                              risk_tier="low"))
    results = tmp_path / "evals.json"
    results.write_text(json.dumps({"results": [
        {"name": "support-qa", "metric": "accuracy", "value": 0.91, "threshold": 0.9},
        {"name": "toxicity", "metric": "rate", "value": 0.04, "threshold": 0.01, "higher_is_better": False}]}))
    add_artifact(reg, results, kind="eval-set", name="support-evals")
    create_release(reg, "e1", "acme/evaluated@1", artifacts=("eval-set:support-evals@1",))
    result, evidence = gate_check(reg, "e1", "dev")
    assert [(e["name"], e["passed"]) for e in evidence["evals"]] == [("support-qa", True), ("toxicity", False)]
    assert [r.id for r in result.failures if r.blocking] == ["evals-pass"]


def test_a_policy_naming_an_unknown_environment_is_refused(two_releases: Registry, tmp_path: Path) -> None:
    """A misspelled environment used to make its rule apply nowhere: a gate that silently let everything pass."""
    from assay.release.policy import load_policy

    misspelled = tmp_path / "typo.yaml"
    misspelled.write_text("version: 1\nrules:\n  - id: never\n    description: nothing reaches production\n"
                          "    severity: deny\n    environments: [prodution]\n    expr: 'false'\n")
    with pytest.raises(UsageError, match="unknown environment.*'prodution'"):
        set_policy(two_releases, misspelled)
    with pytest.raises(UsageError, match="unknown environment.*'prodution'"):
        gate_check(two_releases, "r1", "dev", policy=load_policy(misspelled))
    assert _active(two_releases, "dev") is None


def test_rollback_to_reaches_only_a_release_that_was_active_there(two_releases: Registry) -> None:
    """``rollback --to`` used to deploy any release, even one no gate had let into the environment."""
    reg = two_releases
    promote(reg, "r1", "dev")
    with pytest.raises(UsageError, match="never active in dev"):
        rollback(reg, "dev", to="r2")  # r2 never passed the dev gate
    promote(reg, "r2", "dev")
    assert rollback(reg, "dev", to="r1").release == "r1"
    assert [d["action"] for d in history(reg, "dev")] == ["promote", "promote", "rollback"]


def test_known_good_skips_a_release_that_was_rolled_back(two_releases: Registry) -> None:
    """promote r1, r2; roll back to r1: a second plain rollback used to pick r2, the release the first rollback
    left because it misbehaved."""
    reg = two_releases
    for name in ("r1", "r2"):
        promote(reg, name, "dev")
    assert rollback(reg, "dev").release == "r1"
    with pytest.raises(UsageError, match="no earlier release"):
        rollback(reg, "dev")  # r2 was rolled back from, r1 is active: nothing else is known-good
    assert _active(reg, "dev") == "r1"
    promote(reg, "r2", "dev")  # through the gate again
    assert rollback(reg, "dev").release == "r1"


def test_approval_and_order_rules_cannot_be_waived(reg: Registry, tmp_path: Path) -> None:
    """A waiver used to open any deny rule, the approval rules included: production with zero approvals. The
    refusal holds for ``assay waive`` and for a waiver row written straight into the database."""
    _approvers(reg, "bob")
    folder = write_model(tmp_path / "m", card=card("apache-2.0"))
    intake(reg, IntakeRequest(folder, "acme/solo", owner="x", risk_tier="low"))
    create_release(reg, "solo1", "acme/solo@1")
    bob = _as(reg, "bob")
    until = datetime.now(UTC) + timedelta(days=5)
    for rule in ("approvals-staging", "approvals-production", "no-self-approval", "promoted-through-previous"):
        with pytest.raises(UsageError, match="cannot be waived"):
            waive(bob, rule, "solo1", "staging", reason="ship it", expires=until)
    promote(reg, "solo1", "dev")
    with reg.write() as session:  # forged: the row a waive command would have written, had it been allowed
        release_id = session.execute(text("SELECT id FROM releases WHERE name = 'solo1'")).scalar_one()
        session.execute(text("INSERT INTO waivers (release_id, environment, rule_id, reason, approver, expires_at,"
                             " created_at) VALUES (:r, 'staging', 'approvals-staging', 'forged', 'mallory', :x, :n)"),
                        {"r": release_id, "x": until, "n": datetime.now(UTC)})
    with pytest.raises(RecordTampered, match="waivers/1 was written outside assay"):
        promote(reg, "solo1", "staging")
    with pytest.raises(RecordTampered):
        gate_check(reg, "solo1", "staging")
    assert _active(reg, "staging") is None


@pytest.mark.parametrize("content", [
    "not json", "[]", '{"results": []}', '{"results": null}', '{"results": 3}', '{"result": [{}]}',
    '{"results": [{"name": "a", "value": true, "threshold": 1}]}',
    '{"results": [{"name": "a", "value": 1}]}', '{"results": [{"value": 1, "threshold": 1}]}',
    '{"results": [{"name": "a", "value": 1, "threshold": 1, "higher_is_better": "no"}]}',
], ids=["not-json", "a-list", "empty", "null", "number", "misnamed", "bool-value", "no-threshold", "no-name",
        "bad-direction"])
def test_a_malformed_eval_set_is_refused_when_added(reg: Registry, tmp_path: Path, content: str) -> None:
    from assay.errors import InputError
    from assay.registry import add_artifact

    bad = tmp_path / "evals.json"
    bad.write_text(content)
    with pytest.raises(InputError, match="not an eval-set"):
        add_artifact(reg, bad, kind="eval-set", name="broken")


@pytest.mark.parametrize("damage", ["deleted", "truncated", "edited", "emptied"])
def test_an_eval_set_damaged_after_it_was_added_fails_the_gate(reg: Registry, tmp_path: Path, damage: str) -> None:
    """Gate inputs fail closed: an eval-set whose blob was deleted, truncated or edited (even into other passing
    results) used to read as no evaluation at all, and ``evals-pass`` passed on nothing."""
    from assay.registry import add_artifact

    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/evaluated", owner="x",
                              risk_tier="low"))
    results = tmp_path / "evals.json"
    results.write_text(json.dumps({"results": [{"name": "qa", "metric": "accuracy", "value": 0.5,
                                                "threshold": 0.9}]}))
    info = add_artifact(reg, results, kind="eval-set", name="qa-evals")
    create_release(reg, "e1", "acme/evaluated@1", artifacts=("eval-set:qa-evals@1",))
    hexdigest = info.digest.split(":")[1]
    blob = reg.blobs.root / "sha256" / hexdigest[:2] / hexdigest[2:]  # the evidence store's layout
    assert blob.is_file()
    if damage == "deleted":
        blob.unlink()
    elif damage == "truncated":
        blob.write_bytes(blob.read_bytes()[:20])
    elif damage == "edited":  # the failing result rewritten to pass, and valid JSON
        blob.write_text(json.dumps({"results": [{"name": "qa", "metric": "accuracy", "value": 0.95,
                                                 "threshold": 0.9}]}))
    else:
        blob.write_bytes(b"")
    result, evidence = gate_check(reg, "e1", "dev")
    assert [(e["name"], e["passed"]) for e in evidence["evals"]] == [("qa-evals@1", False)]
    assert "evals-pass" in [r.id for r in result.failures if r.blocking] and not result.passed
    with pytest.raises(GateFailed, match="evals-pass"):
        promote(reg, "e1", "dev")


def test_a_risk_tier_change_re_opens_approvals(two_releases: Registry) -> None:
    """Approvals given for one risk tier do not carry over to another: the change is recorded and the gate counts
    only approvals given after it."""
    from assay.registry import set_model_metadata

    reg = two_releases
    promote(reg, "r1", "dev")
    set_model_metadata(_as(reg, "dana"), "acme/classifier", {"risk_tier": "critical"})
    with pytest.raises(GateFailed, match="approvals-staging"):
        promote(reg, "r1", "staging")
    approve(_as(reg, "bob"), "r1", "staging")
    assert promote(reg, "r1", "staging").gate.passed
