"""Every row a gate reads is audited state: edited, inserted or deleted outside assay, it stops the gate.

Each case performs one direct database edit an attacker with write access would make to get a release further
than the gates allow (on SQLite and PostgreSQL), then checks three things: the decision that edit was meant to
sway refuses with RecordTampered (exit 1), ``audit verify`` names the row, and ``doctor`` names it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assay.registry import RecordTampered, Registry, doctor
from assay.registry import _auditread as auditread
from assay.registry import _logkey as logkey
from assay.release import approve, gate_check, history, promote, rollback, status
from tests.fixtures.world import acting, build_world

_as = acting


@pytest.fixture
def world(reg: Registry, tmp_path: Path) -> Registry:
    """The shared history (``tests.fixtures.world``)."""
    return build_world(reg, tmp_path)


def _id(sql: Any, query: str, **params: Any) -> int:
    return sql.execute(text(query), params).scalar_one()


def _release_id(sql: Any, name: str) -> int:
    return _id(sql, "SELECT id FROM releases WHERE name = :n", n=name)


def _env_id(sql: Any, name: str) -> int:
    return _id(sql, "SELECT id FROM environments WHERE name = :n", n=name)


def _newest_deployment(sql: Any, env: str) -> int:
    return _id(sql, "SELECT id FROM deployments WHERE environment_id = :e ORDER BY seq DESC LIMIT 1", e=_env_id(sql, env))


def _version_id(sql: Any, model: str) -> int:
    return _id(sql, "SELECT v.id FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = :m "
               "ORDER BY v.number LIMIT 1", m=model)


def _approve_u1(sql: Any) -> None:
    for who in ("bob", "carol"):
        sql.execute(text("INSERT INTO approvals (release_id, environment, approver, created_at) VALUES (:r, 'staging', "
                         ":a, :t)"), {"r": _release_id(sql, "u1"), "a": who, "t": datetime.now(UTC)})


def _forge_waiver(sql: Any) -> None:
    sql.execute(text("INSERT INTO waivers (release_id, environment, rule_id, reason, approver, expires_at, created_at) "
                     "VALUES (:r, 'staging', 'signature-trusted', 'forged', 'bob', :x, :t)"),
                {"r": _release_id(sql, "u1"), "x": datetime.now(UTC) + timedelta(days=5), "t": datetime.now(UTC)})


def _move_approvals(sql: Any) -> None:
    sql.execute(text("UPDATE approvals SET release_id = :u WHERE release_id = :r AND environment = 'staging'"),
                {"u": _release_id(sql, "u1"), "r": _release_id(sql, "r1")})


def _u1_in_staging(sql: Any) -> None:
    sql.execute(text("UPDATE deployments SET release_id = :u WHERE id = :d"),
                {"u": _release_id(sql, "u1"), "d": _newest_deployment(sql, "staging")})


def _insert_staging_deployment(sql: Any) -> None:
    env = _env_id(sql, "staging")
    seq = _id(sql, "SELECT max(seq) FROM deployments WHERE environment_id = :e", e=env) + 1
    sql.execute(text("INSERT INTO deployments (environment_id, seq, release_id, action, traffic_percent, gate, "
                     "policy_digest, evidence_digests, created_by, created_at) VALUES (:e, :s, :r, 'promote', 100, "
                     "'{}', 'x', '[]', 'alice', :t)"), {"e": env, "s": seq, "r": _release_id(sql, "u1"),
                                                         "t": datetime.now(UTC)})
    sql.execute(text("UPDATE environments SET deploy_seq = :s WHERE id = :e"), {"s": seq, "e": env})


def _undo_rollback(sql: Any) -> None:
    """r2 was rolled back in production: delete the rollback and put the counter back, so r2 runs again."""
    env = _env_id(sql, "production")
    sql.execute(text("DELETE FROM deployments WHERE id = :d"), {"d": _newest_deployment(sql, "production")})
    sql.execute(text("UPDATE environments SET deploy_seq = deploy_seq - 1 WHERE id = :e"), {"e": env})


def _undo_rollback_and_replay(sql: Any) -> None:
    """As above, and the environment row also names the entry that last sealed it in that older state."""
    env = _env_id(sql, "production")
    entry = _id(sql, "SELECT entry_idx FROM deployments WHERE environment_id = :e AND seq = ("
                "SELECT max(seq) - 1 FROM deployments WHERE environment_id = :e)", e=env)
    _undo_rollback(sql)
    sql.execute(text("UPDATE environments SET entry_idx = :i WHERE id = :e"), {"i": entry, "e": env})


def _swap_model(sql: Any) -> None:
    sql.execute(text("UPDATE releases SET version_id = :v WHERE name = 'u1'"), {"v": _version_id(sql, "acme/good")})


def _new_submitter(sql: Any) -> None:
    sql.execute(text("UPDATE releases SET created_by = 'mallory' WHERE name = 'u1'"))


def _say_signed(sql: Any) -> None:
    sql.execute(text("UPDATE model_versions SET signature_status = 'verified', signer = 'team' WHERE id = :v"),
                {"v": _version_id(sql, "acme/raw")})


def _lower_risk(sql: Any) -> None:
    sql.execute(text("UPDATE models SET risk_tier = 'low' WHERE name = 'acme/raw'"))


def _swap_scan_report(sql: Any) -> None:
    """Point acme/raw's scan report at another version's report."""
    other = _id(sql, "SELECT digest FROM evidence WHERE subject_id = :v AND kind = 'scan-report' ORDER BY id LIMIT 1",
                v=_version_id(sql, "acme/good"))
    sql.execute(text("UPDATE evidence SET digest = :d WHERE subject_kind = 'version' AND subject_id = :v AND kind = "
                     "'scan-report'"), {"d": other, "v": _version_id(sql, "acme/raw")})


def _drop_newer_scan(sql: Any) -> None:
    """acme/good@1 was inspected again: delete that newer report so the older one decides."""
    sql.execute(text("DELETE FROM evidence WHERE id = (SELECT max(id) FROM evidence WHERE kind = 'scan-report' AND "
                     "subject_kind = 'version' AND subject_id = :v)"), {"v": _version_id(sql, "acme/good")})


def _drop_lineage(sql: Any) -> None:
    sql.execute(text("DELETE FROM lineage WHERE child_version_id = :v"), {"v": _version_id(sql, "acme/good")})


def _drop_part(sql: Any) -> None:
    sql.execute(text("DELETE FROM release_artifacts WHERE release_id = :r"), {"r": _release_id(sql, "u1")})


def _swap_artifact(sql: Any) -> None:
    sql.execute(text("UPDATE artifacts SET digest = :d WHERE name = 'support/prompt'"), {"d": "sha256:" + "0" * 64})


def _move_part_away(sql: Any) -> None:
    """u1's prompt moves to r1: a gate reading u1's parts by release finds none (and no eval-set to fail)."""
    sql.execute(text("UPDATE release_artifacts SET release_id = :r WHERE release_id = :u"),
                {"r": _release_id(sql, "r1"), "u": _release_id(sql, "u1")})


def _move_newer_scan_away(sql: Any) -> None:
    """acme/good@1's newer scan report moves to another version: the older one decides again."""
    sql.execute(text("UPDATE evidence SET subject_id = :o WHERE id = (SELECT max(id) FROM evidence WHERE kind = "
                     "'scan-report' AND subject_kind = 'version' AND subject_id = :v)"),
                {"v": _version_id(sql, "acme/good"), "o": _version_id(sql, "acme/raw")})


Edit = Callable[[Any], None]
CASES: dict[str, tuple[Edit, str, str]] = {
    # name: (edit, decision it sways, release/environment judged)
    "approval-inserted": (_approve_u1, "gate", "u1 staging"),
    "approval-moved": (_move_approvals, "gate", "u1 staging"),
    "waiver-inserted": (_forge_waiver, "gate", "u1 staging"),
    "deployment-edited": (_u1_in_staging, "gate", "u1 production"),
    "deployment-inserted": (_insert_staging_deployment, "gate", "u1 production"),
    "deployment-deleted": (_undo_rollback, "status", "production"),
    "deployment-deleted-and-replayed": (_undo_rollback_and_replay, "status", "production"),
    "release-model-swapped": (_swap_model, "gate", "u1 staging"),
    "release-submitter-edited": (_new_submitter, "gate", "u1 staging"),
    "version-signature-edited": (_say_signed, "gate", "u1 staging"),
    "model-risk-tier-edited": (_lower_risk, "gate", "u1 staging"),
    "evidence-edited": (_swap_scan_report, "gate", "u1 staging"),
    "evidence-deleted": (_drop_newer_scan, "gate", "r1 production"),
    "lineage-deleted": (_drop_lineage, "gate", "r1 production"),
    "release-part-deleted": (_drop_part, "gate", "u1 staging"),
    "artifact-edited": (_swap_artifact, "gate", "u1 staging"),
    "release-part-moved": (_move_part_away, "gate", "u1 staging"),
    "evidence-moved": (_move_newer_scan_away, "gate", "r1 production"),
}


def _decide(reg: Registry, decision: str, target: str) -> None:
    if decision == "gate":
        release, env = target.split()
        gate_check(reg, release, env)
    else:
        status(reg, target)


def test_the_untouched_world_is_judged_without_complaint(world: Registry) -> None:
    """The baseline each edit is measured against: nothing is tampered, every decision runs."""
    for decision, target in {(d, t) for _, d, t in CASES.values()}:
        _decide(world, decision, target)
    assert history(world, "production")[-1]["action"] == "rollback"
    with world.snapshot() as session:
        assert auditread.verify(session, logkey.log_verifier(world.home)).ok
    assert not [p for p in doctor(world) if p.kind != "orphan"]


@pytest.mark.parametrize("case", list(CASES))
def test_a_row_edited_outside_assay_stops_the_gate_and_is_named(world: Registry, case: str) -> None:
    edit, decision, target = CASES[case]
    with world.write() as session:
        edit(session)
    with pytest.raises(RecordTampered, match="outside assay"):
        _decide(world, decision, target)
    with world.snapshot() as session:
        report = auditread.verify(session, logkey.log_verifier(world.home))
    named = [p for p in report.problems if p.kind.startswith("record-")]
    assert not report.ok and named, report.problems
    found = [p for p in doctor(world) if p.kind.startswith("record-")]
    assert found and {p.message for p in found} == {p.message for p in named}


def test_a_promotion_on_edited_rows_changes_nothing(world: Registry) -> None:
    with world.write() as session:
        _approve_u1(session)
        _forge_waiver(session)
    with pytest.raises(RecordTampered):
        promote(world, "u1", "staging")
    assert status(world, "staging")[0]["active"]["release"] == "r2"


def test_a_rollback_on_an_edited_history_changes_nothing(world: Registry) -> None:
    """Rolled back from r2, production runs r1: with the rollback row deleted, a rollback would pick r1's
    predecessor by a history that is not the one on record."""
    with world.write() as session:
        _undo_rollback(session)
    with pytest.raises(RecordTampered):
        rollback(world, "production")
    with pytest.raises(RecordTampered):
        history(world, "production")


def test_the_cli_refuses_in_one_line_with_exit_1(world: Registry, assay_env: dict[str, str]) -> None:
    with world.write() as session:
        _say_signed(session)
    env = {**os.environ, **assay_env}
    run = subprocess.run([sys.executable, "-m", "assay.cli.main", "gate", "check", "u1", "--env", "staging"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "model_versions/" in run.stderr and "changed outside assay" in run.stderr
    verify = subprocess.run([sys.executable, "-m", "assay.cli.main", "audit", "verify", "--format", "json"],
                            capture_output=True, text=True, timeout=120, env=env)
    doc = json.loads(verify.stdout)
    assert verify.returncode == 1 and not doc["ok"]
    assert any(p["kind"] == "record-altered" and "model_versions/" in p["message"] for p in doc["problems"])
    checked = subprocess.run([sys.executable, "-m", "assay.cli.main", "doctor"], capture_output=True, text=True,
                             timeout=120, env=env)
    assert checked.returncode == 1 and "record-altered" in checked.stdout


def test_an_entry_edited_to_match_an_edited_row_does_not_reach_the_signed_root(world: Registry) -> None:
    """The forger edits the row and rewrites the digest in the entry that sealed it (and its leaf hash)."""
    from assay.audit import leaf_hash
    from assay.registry._schema import VersionRow
    from assay.registry._seal import record_digest

    with world.write() as session:
        version = session.get(VersionRow, _version_id(session, "acme/raw"))
        old = record_digest(version)
        version.signature_status = "verified"
        session.flush()
        new = record_digest(version)
        body = session.execute(text("SELECT body FROM audit_entries WHERE idx = :i"), {"i": version.entry_idx}).scalar()
        forged = body.replace(old, new)
        assert forged != body
        session.execute(text("UPDATE audit_entries SET body = :b, leaf_hash = :h WHERE idx = :i"),
                        {"b": forged, "h": leaf_hash(forged.encode()).hex(), "i": version.entry_idx})
        session.info.clear()  # what the flush hook noted: the forger's session is not assay's
    with pytest.raises(RecordTampered, match="not the one the signed log holds"):
        gate_check(world, "u1", "staging")


def _raise_risk_and_put_the_row_back(reg: Registry, model: str) -> None:
    """Raise ``model``'s risk tier on the record, then, as the forger, copy back the row as it was: the old values
    and the entry that sealed them, which that entry still matches."""
    from assay.registry import set_model_metadata

    with reg.snapshot() as session:
        before = session.execute(text("SELECT risk_tier, entry_idx FROM models WHERE name = :m"), {"m": model}).one()
    set_model_metadata(reg, model, {"risk_tier": "critical"})
    with reg.write() as session:
        session.execute(text("UPDATE models SET risk_tier = :t, entry_idx = :i WHERE name = :m"),
                        {"t": before.risk_tier, "i": before.entry_idx, "m": model})


def test_a_model_put_back_to_an_older_logged_state_is_stale(world: Registry) -> None:
    """acme/raw's risk tier was raised on the record; the forger copies back the row as it was (old values and the
    entry that sealed them), which that entry still matches: only the newer ``model-changed`` entry tells."""
    _raise_risk_and_put_the_row_back(world, "acme/raw")
    with pytest.raises(RecordTampered, match="put back to an older state"):
        gate_check(world, "u1", "staging")
    with world.snapshot() as session:
        report = auditread.verify(session, logkey.log_verifier(world.home))
    assert [p.kind for p in report.problems] == ["record-altered"]


def test_a_revoked_release_passes_no_gate_and_is_no_rollback_target(world: Registry) -> None:
    """Production runs r1 (rolled back from r2), staging runs r2 (after r1). A revoked r2 passes no gate and is no
    target of ``--to``; once r1 is revoked too, the known-good search in staging finds nothing."""
    from assay.errors import UsageError
    from assay.release import revoke_release

    with pytest.raises(UsageError, match="needs the approver role"):
        revoke_release(world, "r2", reason="CVE-2026-0001")
    revoke_release(_as(world, "bob"), "r2", reason="CVE-2026-0001 in the tokenizer")
    with pytest.raises(UsageError, match="revoked already"):
        revoke_release(_as(world, "carol"), "r2", reason="again")
    result, evidence = gate_check(world, "r2", "production")
    assert evidence["release"]["revoked"] and "not-revoked" in [r.id for r in result.failures if r.blocking]
    with pytest.raises(UsageError, match="revoked: it is no rollback target"):
        rollback(world, "production", to="r2")
    staging = status(world, "staging")[0]["active"]
    assert staging["release"] == "r2" and staging["revoked"]
    assert rollback(world, "staging", dry_run=True).release == "r1"  # known-good: r1 ...
    revoke_release(_as(world, "carol"), "r1", reason="licence withdrawn")
    with pytest.raises(UsageError, match="no earlier release"):  # ... until r1 is revoked too
        rollback(world, "staging")
    with world.write() as session:  # and the revocation cannot be taken back in the database
        session.execute(text("UPDATE audit_entries SET kind = 'note' WHERE kind = 'release-revoked'"))
    with world.snapshot() as session:
        report = auditread.verify(session, logkey.log_verifier(world.home))
    assert any(p.kind == "altered-entry" and "filed under kind" in p.message for p in report.problems)


def _refile(sql: Any, kind: str, as_kind: str) -> None:
    sql.execute(text("UPDATE audit_entries SET kind = :new WHERE kind = :old"), {"new": as_kind, "old": kind})


@pytest.mark.parametrize("hide", ["relabel", "relabel-and-swap", "blob"])
def test_an_entry_hidden_from_the_kind_index_stops_the_gate(world: Registry, hide: str) -> None:
    """The revocation is filed under another kind (or as bytes, which SQLite's IN never matches) while the forger
    promotes, to be put back afterwards: the signed checkpoint counts the revocations, so the gate sees one
    missing (or a relabelled stand-in whose body says otherwise) and refuses; the promotion never happens."""
    from assay.registry._auditlog import LogTampered
    from assay.release import revoke_release

    revoke_release(_as(world, "bob"), "r2", reason="CVE-2026-0001")
    with world.write() as session:
        if hide == "blob":
            session.execute(text("UPDATE audit_entries SET kind = CAST(kind AS BLOB) WHERE kind = 'release-revoked'")) \
                if session.get_bind().dialect.name == "sqlite" else _refile(session, "release-revoked", "note")
        else:
            _refile(session, "release-revoked", "approval")
        if hide == "relabel-and-swap":  # keep the count: an approval entry stands in for the hidden revocation
            stand_in = _id(session, "SELECT min(idx) FROM audit_entries WHERE kind = 'approval'")
            session.execute(text("UPDATE audit_entries SET kind = 'release-revoked' WHERE idx = :i"), {"i": stand_in})
    with pytest.raises(LogTampered, match="changed outside assay"):
        promote(world, "r2", "production")
    with world.snapshot() as session:
        report = auditread.verify(session, logkey.log_verifier(world.home))
    assert any(p.kind == "altered-entry" and "filed under kind" in p.message for p in report.problems), report
    assert any(p.kind == "altered-entry" for p in doctor(world))
    with world.write() as session:  # the forger puts everything back: nothing was promoted meanwhile
        session.execute(text("UPDATE audit_entries SET kind = 'approval' WHERE body LIKE '%\"kind\":\"approval\"%'"))
        session.execute(text("UPDATE audit_entries SET kind = 'release-revoked' WHERE body LIKE "
                             "'%\"kind\":\"release-revoked\"%'"))
    assert status(world, "production")[0]["active"]["release"] == "r1"
    with world.snapshot() as session:
        assert auditread.verify(session, logkey.log_verifier(world.home)).ok


def test_a_hidden_role_revocation_does_not_let_the_revoked_approve(world: Registry) -> None:
    from assay.registry._auditlog import LogTampered
    from assay.release import revoke_role

    revoke_role(world, "carol", "approver")
    with world.write() as session:
        _refile(session, "role-revoked", "note")
    with pytest.raises(LogTampered):
        approve(_as(world, "carol"), "u1", "staging")


def test_a_hidden_risk_tier_change_does_not_lower_the_bar(world: Registry) -> None:
    """The tier was raised on the record; the forger files the change under another kind and puts the row back."""
    from assay.registry._auditlog import LogTampered

    _raise_risk_and_put_the_row_back(world, "acme/good")
    with world.write() as session:
        _refile(session, "model-changed", "note")
    with pytest.raises(LogTampered):
        gate_check(world, "r1", "production")


def test_a_hidden_re_inspection_does_not_bring_back_the_older_scan(world: Registry) -> None:
    """acme/good@1 was inspected again: the forger deletes the newer report and files the re-inspection entry
    under another kind, so that no consulted entry misses its row; the signed count of re-inspections does."""
    from assay.registry._auditlog import LogTampered

    with world.write() as session:
        _drop_newer_scan(session)
        _refile(session, "reinspection", "note")
    with pytest.raises(LogTampered, match="'reinspection' entries"):
        gate_check(world, "r1", "production")


def test_rows_from_before_seals_are_sealed_only_by_an_admin_on_the_record(world: Registry) -> None:
    """A registry made before rows were sealed has rows without an entry: no gate acts on them until an admin
    seals them, and the entry that does names every one."""
    from assay.errors import UsageError
    from assay.release import seal_unsealed_rows

    with world.write() as session:  # what schema 0002 left: rows without an entry
        session.execute(text("UPDATE approvals SET entry_idx = NULL WHERE release_id = :r"),
                        {"r": _release_id(session, "r1")})
    with pytest.raises(RecordTampered, match="no audit entry"):
        gate_check(world, "r1", "production")
    with pytest.raises(UsageError, match="admin"):
        seal_unsealed_rows(_as(world, "bob"))
    done = seal_unsealed_rows(world)
    assert len(done["sealed"]) == 4 and all(k.startswith("approvals/") for k in done["sealed"])
    assert gate_check(world, "r1", "production")[0] is not None
    with world.snapshot() as session:
        assert auditread.verify(session, logkey.log_verifier(world.home)).ok
    assert seal_unsealed_rows(world) == {"sealed": []}


def test_a_log_cut_back_to_an_older_checkpoint_stops_decisions(world: Registry) -> None:
    """The newest checkpoints are deleted (no entry is), so that the revocation after the newest remaining one is
    not counted, and it is filed under another kind: every change signs a checkpoint, so a log that runs past its
    newest one was changed, and no decision rests on it."""
    from assay.registry._auditlog import LogTampered
    from assay.release import revoke_release

    revoke_release(_as(world, "bob"), "r2", reason="CVE-2026-0001")
    with world.write() as session:
        revoked = _id(session, "SELECT idx FROM audit_entries WHERE kind = 'release-revoked'")
        session.execute(text("DELETE FROM audit_checkpoints WHERE size > :i"), {"i": revoked})
        _refile(session, "release-revoked", "note")
    with pytest.raises(LogTampered, match="does not end at its newest signed checkpoint"):
        gate_check(world, "r2", "production")


def test_a_value_its_column_cannot_hold_is_one_line_not_a_traceback(world: Registry,
                                                                   assay_env: dict[str, str]) -> None:
    """SQLite stores any text in a date column; PostgreSQL refuses it at the UPDATE, so there is nothing to read."""
    from assay.registry import DatabaseFault

    if not assay_env["ASSAY_DATABASE_URL"].startswith("sqlite"):
        with pytest.raises(DatabaseFault, match="invalid input syntax"), world.write() as session:
            session.execute(text("UPDATE approvals SET created_at = 'garbage'"))
        return
    with world.write() as session:
        session.execute(text("UPDATE approvals SET created_at = 'garbage'"))
    env = {**os.environ, **assay_env}
    for args in (["gate", "check", "r1", "--env", "production"], ["audit", "verify"], ["doctor"]):
        run = subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                             timeout=120, env=env)
        assert run.returncode == 1 and "Traceback" not in run.stderr, (args, run.stderr)
        assert run.stderr.count("\n") == 1 and "cannot hold" in run.stderr
