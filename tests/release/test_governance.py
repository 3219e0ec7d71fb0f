"""Rules are registered, not chosen by the caller; roles are granted on the record.

Each test performs a bypass that worked before (a flag, an environment variable, a forged row or file) and checks
that it now fails, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from assay.errors import InputError, UsageError
from assay.registry import IntakeRequest, Registry, ReleaseRow, intake
from assay.release import (
    approve,
    create_release,
    gate_check,
    grant_role,
    list_roles,
    promote,
    revoke_role,
    set_environments,
    set_policy,
    waive,
)
from assay.release._service import GateFailed
from tests.fixtures.model_folders import card, write_model

ALLOW_ALL = "version: 1\nrules:\n  - id: anything\n    description: lets everything through\n" \
            "    severity: deny\n    expr: 'true'\n"


def _as(reg: Registry, who: str) -> Registry:
    return Registry(reg.engine, reg.blobs, who, reg.home)


@pytest.fixture
def unapproved(reg: Registry, tmp_path: Path) -> Registry:
    """An unsigned release u1 nobody approved, never promoted anywhere; alice is the admin."""
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/raw", owner="x",
                              risk_tier="low"))
    create_release(reg, "u1", "acme/raw@1")
    grant_role(reg, "alice", "admin")
    return reg


def _assay(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_the_caller_cannot_pick_the_rules_of_promote(unapproved: Registry, tmp_path: Path) -> None:
    """``promote --policy allow.yaml`` and ``ASSAY_POLICY=allow.yaml`` used to put an unsigned, unapproved release
    that had never been in staging into production."""
    allow = tmp_path / "allow.yaml"
    allow.write_text(ALLOW_ALL)
    flag = _assay("promote", "u1", "--env", "production", "--policy", str(allow))
    assert flag.returncode == 2 and "unrecognized arguments: --policy" in flag.stderr
    variable = _assay("promote", "u1", "--env", "production", env={"ASSAY_POLICY": str(allow)})
    assert variable.returncode == 1 and "promoted-through-previous" in variable.stderr
    (unapproved.home / "policy.yaml").write_text(ALLOW_ALL)  # a file dropped into ASSAY_HOME is not read either
    with pytest.raises(GateFailed):
        promote(unapproved, "u1", "production")
    what_if = _assay("gate", "check", "u1", "--env", "production", env={"ASSAY_POLICY": str(allow)})
    assert what_if.returncode == 0 and what_if.stdout.startswith(f"WHAT-IF: judged under {allow}")
    status = _assay("status", "--format", "json")
    assert all(e["active"] is None for e in json.loads(status.stdout)["environments"])


def test_the_environment_order_is_registered_not_taken_from_the_environment(unapproved: Registry) -> None:
    """``ASSAY_ENVIRONMENTS=production`` used to skip dev and staging."""
    skip = _assay("promote", "u1", "--env", "production", env={"ASSAY_ENVIRONMENTS": "production"})
    assert skip.returncode == 2 and "ASSAY_ENVIRONMENTS is not read" in skip.stderr
    with pytest.raises(UsageError, match="needs the admin role"):
        set_environments(_as(unapproved, "mallory"), ("production",))
    promote(unapproved, "u1", "dev")
    with pytest.raises(UsageError, match="must stay in the order"):
        set_environments(unapproved, ("staging", "production"))  # dev has history
    done = set_environments(unapproved, ("dev", "qa", "staging", "production"))
    assert done["previous"] == ["dev", "staging", "production"]
    with pytest.raises(GateFailed, match="promoted-through-previous"):
        promote(unapproved, "u1", "staging")  # qa now comes between dev and staging
    with unapproved.read() as session:
        kinds = [k for (k,) in session.execute(text("SELECT kind FROM audit_entries ORDER BY idx"))]
    assert "environments-set" in kinds


def test_only_an_admin_registers_a_policy_and_a_forged_file_fails_closed(unapproved: Registry, tmp_path: Path) -> None:
    allow = tmp_path / "allow.yaml"
    allow.write_text(ALLOW_ALL)
    with pytest.raises(UsageError, match="needs the admin role"):
        set_policy(_as(unapproved, "mallory"), allow)
    doc = set_policy(unapproved, allow, ("dev",))
    assert promote(unapproved, "u1", "dev").gate.policy_digest == doc["digest"]  # registered: in force for dev
    hexdigest = doc["blob"].split(":")[1]
    stored = unapproved.blobs.root / "sha256" / hexdigest[:2] / hexdigest[2:]
    stored.write_text(ALLOW_ALL.replace("lets everything through", "edited on disk"))
    with pytest.raises(InputError, match="registered for dev"):
        gate_check(unapproved, "u1", "dev")  # never the shipped default in its place


def test_roles_are_granted_by_an_admin_and_recorded(reg: Registry) -> None:
    with pytest.raises(UsageError, match="needs the admin role"):
        grant_role(reg, "bob", "approver")  # nobody is admin yet: only self-admin bootstraps
    grant_role(reg, "alice", "admin")
    with pytest.raises(UsageError, match="needs the admin role"):
        grant_role(_as(reg, "bob"), "bob", "admin")  # there is an admin now: no second bootstrap
    grant_role(reg, "bob", "approver")
    grant_role(reg, "ciso@example.com", "approver")  # actors are often e-mail addresses
    revoke_role(reg, "ciso@example.com", "approver")
    for bad in ("bad\nname", "b\u200bob", "b\u043eb"):  # a newline, a zero-width space, a Cyrillic o
        with pytest.raises(UsageError, match="character|scripts"):
            grant_role(reg, bad, "approver")
    grant_role(reg, "CISO@Example.com", "approver")  # one person however it is spelt
    with pytest.raises(UsageError, match="already holds"):
        grant_role(reg, "ciso@example.com", "approver")
    revoke_role(reg, "Ciso@example.COM", "approver")
    assert list_roles(reg) == {"alice": ["admin"], "bob": ["approver"]}
    with pytest.raises(UsageError, match="last admin"):
        revoke_role(reg, "alice", "admin")
    revoke_role(reg, "bob", "approver")
    assert list_roles(reg) == {"alice": ["admin"]}
    with reg.write() as session:  # a role row written straight into the database: there is none to write
        tables = {t for (t,) in session.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if reg.engine.dialect.name == "sqlite" else
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    assert not any("role" in t for t in tables)  # roles live only in the signed log
    granted = _assay("role", "grant", "carol", "approver")  # as alice (ASSAY_ACTOR), the admin
    assert granted.returncode == 0 and granted.stdout == "granted approver to carol\n", granted.stderr
    refused = _assay("role", "revoke", "alice", "admin", "--actor", "carol")
    assert refused.returncode == 2 and "needs the admin role" in refused.stderr and refused.stderr.count("\n") == 1
    listed = _assay("role", "list", "--format", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["roles"] == {"alice": ["admin"], "carol": ["approver"]}


def test_approving_and_waiving_need_the_approver_role(unapproved: Registry) -> None:
    until = datetime.now(UTC) + timedelta(days=3)
    with pytest.raises(UsageError, match="needs the approver role"):
        approve(_as(unapproved, "bob"), "u1", "staging")
    with pytest.raises(UsageError, match="needs the approver role"):
        waive(_as(unapproved, "bob"), "signature-trusted", "u1", "staging", reason="r", expires=until)


def test_a_production_waiver_needs_a_second_approver(unapproved: Registry) -> None:
    reg = unapproved
    for who in ("bob", "carol", "dana"):
        grant_role(reg, who, "approver")
    until = datetime.now(UTC) + timedelta(days=3)
    first = waive(_as(reg, "bob"), "signature-trusted", "u1", "production", reason="INC-7", expires=until)
    assert first["effective"] is False
    result, _ = gate_check(reg, "u1", "production")
    assert not next(r for r in result.results if r.id == "signature-trusted").waived
    with pytest.raises(UsageError, match="already waived"):
        waive(_as(reg, "bob"), "signature-trusted", "u1", "production", reason="again", expires=until)
    second = waive(_as(reg, "carol"), "signature-trusted", "u1", "production", reason="INC-7", expires=until)
    assert second["effective"] is True
    result, _ = gate_check(reg, "u1", "production")
    assert next(r for r in result.results if r.id == "signature-trusted").waived
    staging = waive(_as(reg, "dana"), "signature-trusted", "u1", "staging", reason="INC-7", expires=until)
    assert staging["effective"] is True  # one approver is enough before production


def test_an_approval_is_a_statement_signed_by_the_registry_that_an_auditor_checks_without_assay(
        unapproved: Registry, tmp_path: Path) -> None:
    import base64
    import json
    import zipfile

    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from assay.registry import export_audit_bundle
    from assay.signing import pae

    reg = unapproved
    grant_role(reg, "bob", "approver")
    doc = approve(_as(reg, "bob"), "u1", "staging")
    bundle = tmp_path / "audit.zip"
    with reg.snapshot() as session:
        export_audit_bundle(session, reg.blobs, reg.home, bundle)
    with zipfile.ZipFile(bundle) as z:  # the auditor's side: the bundle, the public key, and no assay
        name = next(n for n in z.namelist() if doc["statement"].split(":")[1] in n)
        envelope = json.loads(z.read(name))
    public = load_pem_public_key((reg.home / "keys" / "audit-log.pub.pem").read_bytes())
    payload = base64.b64decode(envelope["payload"])
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae(payload))  # raises if forged
    statement = json.loads(payload)
    with reg.snapshot() as session:
        digest = session.scalars(select(ReleaseRow.digest).where(ReleaseRow.name == "u1")).one()
    assert statement["subject"] == [{"name": "u1", "digest": {"sha256": digest.removeprefix("sha256:")}}]
    assert statement["predicate"]["approver"] == "bob" and statement["predicate"]["environment"] == "staging"

    # the statement swapped in the store for one the attacker signed: the approval no longer counts
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged_payload = json.dumps({**statement, "predicate": {**statement["predicate"], "approver": "bob"}}).encode()
    forged = {**envelope, "payload": base64.b64encode(forged_payload).decode(),
              "signatures": [{"keyid": envelope["signatures"][0]["keyid"],
                              "sig": base64.b64encode(Ed25519PrivateKey.generate().sign(pae(forged_payload))).decode()}]}
    reg.blobs._path(doc["statement"]).write_bytes(json.dumps(forged).encode())
    _, evidence = gate_check(reg, "u1", "staging")
    assert evidence["approvals"]["count"] == 0
    assert evidence["approvals"]["unproven"] == ["bob has an unreadable statement (InputError)"]


def test_trusted_signers_are_on_the_record_and_only_an_admin_changes_them(reg: Registry, tmp_path: Path) -> None:
    import assay
    from assay.release import add_trusted_key, list_trusted_keys, remove_trusted_key
    from assay.signing import keygen

    grant_role(reg, "alice", "admin")
    priv, pub = keygen(tmp_path / "team")
    folder = write_model(tmp_path / "m", card=card("mit"))
    assay.sign(folder, key=priv)
    intake(reg, IntakeRequest(folder, "acme/signed", owner="x", risk_tier="low", public_key=pub))
    create_release(reg, "s1", "acme/signed@1")

    def trusted() -> bool:
        return bool(gate_check(reg, "s1", "dev")[1]["signature"]["trusted"])

    assert not trusted()
    with pytest.raises(UsageError, match="needs the admin role"):
        add_trusted_key(_as(reg, "mallory"), pub, "team")
    with pytest.raises(UsageError, match="not a PEM public key"):
        add_trusted_key(reg, folder / "config.json", "junk")
    added = add_trusted_key(reg, pub, "team")
    assert trusted() and list_trusted_keys(reg) == [{"name": "team", "digest": added["digest"]}]
    reg.blobs._path(added["digest"]).write_bytes(b"-----BEGIN PUBLIC KEY-----\nswapped\n-----END PUBLIC KEY-----\n")
    assert not trusted()  # an altered key trusts no one
    reg.blobs._path(added["digest"]).write_bytes(pub.read_bytes().strip())
    assert trusted()
    remove_trusted_key(reg, "team")
    assert not trusted() and list_trusted_keys(reg) == []
