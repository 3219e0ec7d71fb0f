"""The team server as a team uses it: the same CLI against a real server process, identities from tokens, rights
from roles, separation of duties by who the credential proves, not who the caller says they are."""

from __future__ import annotations

import json
from pathlib import Path

from tests.server.conftest import Receiver, TeamServer


def _ok(result) -> str:  # noqa: ANN001
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def test_a_release_goes_through_the_server_as_the_people_the_tokens_prove(team_server: TeamServer,
                                                                         minilm_dir: Path) -> None:
    s = team_server
    alice, bob = s.token("alice", "submitter"), s.token("bob", "approver")
    _ok(s.cli(s.admin, "role", "grant", "bob", "deployer", "--env", "dev"))

    intake = s.cli(alice, "intake", str(minilm_dir), "--name", "acme/minilm", "--owner", "ml")
    assert "ACCEPTED  acme/minilm@1" in _ok(intake)
    _ok(s.cli(alice, "release", "create", "r1", "--model", "acme/minilm@1"))

    # alice cannot approve her own release, whatever she calls herself
    for extra in ({}, {"ASSAY_ACTOR": "bob"}):
        refused = s.cli(alice, "approve", "r1", "--env", "dev", **extra)
        assert refused.returncode == 2 and "alice may not approve" in refused.stderr, refused.stderr
    flagged = s.cli(alice, "approve", "r1", "--env", "dev", "--actor", "bob")
    assert flagged.returncode == 2 and "--actor is not read against a server" in flagged.stderr

    # a second token of bob's, in another spelling, is bob: his one approval, not a second approver
    assert "bob approved r1 for dev" in _ok(s.cli(bob, "approve", "r1", "--env", "dev"))
    again = s.cli(s.token("BOB", "approver"), "approve", "r1", "--env", "dev")
    assert again.returncode == 2 and "already approved" in again.stderr

    assert "promoted dev: none -> r1" in _ok(s.cli(bob, "promote", "r1", "--env", "dev"))
    staging = s.cli(bob, "promote", "r1", "--env", "staging")
    assert staging.returncode == 2 and "needs the deployer role for staging" in staging.stderr

    # the audit log names the credential of every change, and only an auditor (or admin) reads it
    log = json.loads(_ok(s.cli(s.admin, "audit", "log", "--kind", "approval", "--kind", "promote", "-f", "json")))
    by = {e["kind"]: e for e in log["entries"]}
    assert by["approval"]["actor"] == "bob" and by["approval"]["payload"]["credential"].startswith("token:")
    assert by["promote"]["payload"]["credential"] == by["approval"]["payload"]["credential"]
    assert s.cli(alice, "audit", "log").returncode == 2
    assert _ok(s.cli(s.admin, "audit", "verify")).rstrip().endswith("INTACT")


def test_every_command_answers_as_the_embedded_registry_does(team_server: TeamServer, minilm_dir: Path) -> None:
    s = team_server
    viewer = s.token("vera", "viewer")
    s.cli(s.token("alice", "submitter"), "intake", str(minilm_dir), "--name", "acme/minilm")
    for args in (["models"], ["show", "acme/minilm@1"], ["lineage", "acme/minilm"], ["status"],
                 ["history", "--env", "dev"], ["artifact", "list"], ["dataset", "list"], ["approvals"],
                 ["where", "acme/minilm@1"], ["role", "list"]):
        for fmt in ("text", "json"):
            remote, local = s.cli(viewer, *args, "-f", fmt), s.local(*args, "-f", fmt)
            assert (remote.returncode, remote.stdout, remote.stderr) == (local.returncode, local.stdout,
                                                                        local.stderr), args
    missing = s.cli(viewer, "show", "acme/nothing"), s.local("show", "acme/nothing")
    assert (missing[0].returncode, missing[0].stderr) == (missing[1].returncode, missing[1].stderr) == (
        2, missing[1].stderr) and missing[1].stderr.startswith("assay: error: ")


def test_files_come_back_to_the_caller_pull_bom_and_the_audit_bundle(team_server: TeamServer, minilm_dir: Path,
                                                                     tmp_path: Path) -> None:
    s = team_server
    viewer, auditor = s.token("vera", "viewer"), s.token("audrey", "auditor")
    s.cli(s.token("alice", "submitter"), "intake", str(minilm_dir), "--name", "acme/minilm", "--owner", "ml")
    pulled = json.loads(_ok(s.cli(viewer, "pull", "acme/minilm@1", str(tmp_path / "copy"), "-f", "json")))
    assert pulled["target"] == str(tmp_path / "copy") and pulled["files"] > 5
    restored = [f for f in (tmp_path / "copy").rglob("*") if f.is_file()]
    assert len(restored) == pulled["files"]  # the files the identity covers (ignore rules leave out .gitattributes)
    for f in restored:
        assert f.read_bytes() == (minilm_dir / f.relative_to(tmp_path / "copy")).read_bytes(), f
    again = s.cli(viewer, "pull", "acme/minilm@1", str(tmp_path / "copy"))
    assert again.returncode == 2 and "not empty" in again.stderr

    _ok(s.cli(viewer, "bom", "acme/minilm@1", "--output", str(tmp_path / "bom.json")))
    assert json.loads((tmp_path / "bom.json").read_text())["bomFormat"] == "CycloneDX"
    assert json.loads(_ok(s.cli(viewer, "bom", "acme/minilm@1", "-f", "json")))["bom"]["bomFormat"] == "CycloneDX"

    assert s.cli(viewer, "audit", "export", "--output", str(tmp_path / "audit.zip")).returncode == 2  # auditors only
    _ok(s.cli(auditor, "audit", "export", "--output", str(tmp_path / "audit.zip")))
    verified = s.local("audit", "verify", "--bundle", str(tmp_path / "audit.zip"), "--public-key",
                       str(Path(s.env["ASSAY_HOME"]) / "keys" / "audit-log.pub.pem"))
    assert verified.returncode == 0 and "INTACT" in verified.stdout, verified.stdout + verified.stderr
    assert not any((Path(s.env["ASSAY_HOME"]) / "downloads").iterdir())  # each result is fetched once, then gone


def test_names_are_one_identity_and_lookalikes_are_refused(team_server: TeamServer) -> None:
    s = team_server
    for name in ("\u0430lice", "ali\u200bce", "al\u00adice"):  # Cyrillic a, zero-width space, soft hyphen
        result = s.cli(s.admin, "token", "create", "--name", name, "--role", "approver")
        assert result.returncode == 2 and "assay_" not in result.stdout, name
    import httpx

    me = httpx.get(s.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {s.token('ＡＬＩＣＥ', 'viewer')}"})
    assert me.json()["name"] == "alice" and "viewer" in me.json()["roles"]


def test_racing_promotions_on_two_workers_one_wins_the_others_get_409(team_server: TeamServer,
                                                                      minilm_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.server.conftest import start

    s = team_server
    second, url2, _ = start(s.env, init=False)  # a second stateless worker on the same database and store
    s.processes.append(second)
    alice, carol = s.token("alice", "submitter"), s.token("carol", "approver")
    deployer = s.token("dan", "deployer")
    s.cli(alice, "intake", str(minilm_dir), "--name", "acme/minilm", "--owner", "ml")
    names = [f"race-{i}" for i in range(6)]
    for name in names:
        _ok(s.cli(alice, "release", "create", name, "--model", "acme/minilm@1"))
        _ok(s.cli(carol, "approve", name, "--env", "dev"))

    before = json.loads(_ok(s.cli(deployer, "status", "--env", "dev", "-f", "json")))["environments"][0]["active"]
    current = before["release"] if before else "none"

    def promote(i: int) -> int:
        url = (s.url, url2)[i % 2]
        import httpx

        return httpx.post(url + "/api/v1/promote", json={"release": names[i], "env": "dev", "replaces": current},
                          headers={"Authorization": f"Bearer {deployer}"}, timeout=120).status_code

    with ThreadPoolExecutor(len(names)) as pool:
        codes = sorted(pool.map(promote, range(len(names))))
    assert codes.count(200) == 1 and codes.count(409) == len(names) - 1, codes
    status = json.loads(_ok(s.cli(deployer, "status", "--env", "dev", "-f", "json")))
    assert status["environments"][0]["environment"] == "dev"
    assert status["environments"][0]["active"]["release"] in names


def test_webhooks_are_signed_retried_logged_and_redelivered(team_server: TeamServer, minilm_dir: Path,
                                                            receiver: Receiver) -> None:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    s = team_server
    added = json.loads(_ok(s.cli(s.admin, "webhook", "add", receiver.url, "--event", "release.created", "--event",
                                 "approval.created", "--event", "release.promoted", "--event", "gate.refused",
                                 "-f", "json")))
    staging_only = json.loads(_ok(s.cli(s.admin, "webhook", "add", receiver.url + "/staging", "--event",
                                        "release.promoted", "--env", "staging", "-f", "json")))
    secret = added["secret"]
    receiver.failures = 2  # the first two attempts fail: the third gets through
    alice, erin = s.token("alice", "submitter"), s.token("erin", "approver")
    s.cli(alice, "intake", str(minilm_dir), "--name", "acme/minilm", "--owner", "ml")
    _ok(s.cli(alice, "release", "create", "hooked", "--model", "acme/minilm@1"))
    first = receiver.wait_for(3)
    assert [json.loads(b)["type"] for _, b in first] == ["release.created"] * 3
    assert len({h["webhook-id"] for h, _ in first}) == 1  # one event, three attempts, one id

    _ok(s.cli(erin, "approve", "hooked", "--env", "dev"))
    refused = s.cli(s.token("dan", "deployer"), "promote", "hooked", "--env", "production")
    assert refused.returncode == 1
    received = receiver.wait_for(5)
    events = [json.loads(body) for _, body in received[3:]]
    assert [e["type"] for e in events] == ["approval.created", "gate.refused"]
    assert events[0]["data"]["approver"] == "erin" and events[0]["data"]["credential"].startswith("token:")
    for headers, body in received:
        Webhook(secret).verify(body, headers)  # the receiver's check: signature, id and a fresh timestamp
        forged = body.replace(b"hooked", b"hacked")
        try:
            Webhook(secret).verify(forged, headers)
            raise AssertionError("an edited body verified")
        except WebhookVerificationError:
            pass
    assert not any(h.get("path") for h, _ in received) and all(s.admin not in b.decode() for _, b in received)

    log = json.loads(_ok(s.cli(s.admin, "webhook", "deliveries", "--webhook", str(added["id"]), "-f", "json")))
    created = [d for d in log["deliveries"] if d["type"] == "release.created"]
    assert sorted((d["attempt"], d["status"]) for d in created) == [(1, 500), (2, 500), (3, 204)]
    assert not [d for d in log["deliveries"] if d["webhook"] == staging_only["id"]]  # nothing of staging happened

    event_id = events[1]["id"]
    _ok(s.cli(s.admin, "webhook", "redeliver", event_id, "--webhook", str(added["id"])))
    again = receiver.wait_for(6)[-1]
    assert again[0]["webhook-id"] == event_id and json.loads(again[1])["type"] == "gate.refused"
    listed = _ok(s.cli(s.admin, "webhook", "list"))
    assert secret not in listed and receiver.url in listed
