"""The server under attack: forged, revoked and edited credentials, guessing, oversized and malformed requests,
hostile uploads, and every endpoint called with every role."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.server.conftest import TeamServer, start, stop

# The documented role matrix (docs/server.md): which roles may call each operation. "any": every role.
ANY = {"viewer", "submitter", "approver", "deployer", "auditor", "admin"}
MATRIX = {
    **{op: ANY for op in ("models", "show", "lineage", "where", "artifact/list", "artifact/show", "dataset/list",
                          "dataset/show", "status", "history", "release/show", "approvals", "waivers", "gate/check",
                          "role/list", "audit/verify", "trust/list", "pull", "bom")},
    **{op: {"submitter"} for op in ("intake", "artifact/add", "dataset/register", "model/set", "release/create")},
    **{op: {"approver"} for op in ("approve", "waive", "release/revoke")},
    **{op: {"deployer"} for op in ("promote", "rollback", "canary/abort")},
    **{op: {"auditor", "admin"} for op in ("audit/log", "audit/proof", "audit/checkpoint", "audit/export", "doctor")},
    **{op: {"admin"} for op in ("role/grant", "role/revoke", "environments/set", "policy/set", "token/create",
                                "token/list", "token/revoke", "audit/rotate-key", "audit/seal", "webhook/add",
                                "webhook/list", "webhook/remove", "webhook/deliveries", "webhook/redeliver",
                                "trust/add", "trust/remove")},
}


def test_every_endpoint_with_every_role_is_allowed_or_forbidden_as_documented(team_server: TeamServer) -> None:
    s = team_server
    spec = httpx.get(s.url + "/api/v1/openapi.json").json()
    ops = {p.removeprefix("/api/v1/") for p in spec["paths"]} - {"health", "whoami", "uploads", "downloads/{download_id}"}
    assert ops == set(MATRIX), "an operation without a documented right (or a documented one not served)"
    tokens = {role: s.token(f"matrix-{role}", role) for role in ANY}
    for op, allowed in MATRIX.items():
        schema = spec["paths"][f"/api/v1/{op}"]["post"]
        assert "requestBody" in schema, op
        for role, token in tokens.items():
            # a body that names nothing real: the right is checked before the operation runs
            answer = s.api(token, f"/api/v1/{op}", _minimal(spec, op))
            forbidden = answer.status_code == 403
            assert forbidden == (role not in allowed), (op, role, answer.status_code, answer.text)
            assert answer.status_code != 500 and "Traceback" not in answer.text, (op, role, answer.text)
            if forbidden:
                assert "needs" in answer.json()["error"] and answer.json()["exit_code"] == 2


def _minimal(spec: dict, op: str) -> dict:
    """A body with every required field filled with a value of its type that names nothing registered."""
    ref = spec["paths"][f"/api/v1/{op}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]] if "$ref" in ref else ref
    values = {"string": "nothing-here", "integer": 1, "boolean": False, "array": ["nothing-here@1"]}
    body = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        kind = prop.get("type") or next((a.get("type") for a in prop.get("anyOf", []) if a.get("type") != "null"),
                                        "string")
        body[name] = "2099-01-01T00:00:00Z" if prop.get("format") == "date-time" else values.get(kind, "x")
    env = schema.get("properties", {}).get("env")
    if env is not None:  # a scoped right is judged for a real environment
        listed = "array" in json.dumps(env)
        body["env"] = ["dev"] if listed else "dev"
    return body


def test_no_call_without_a_credential_that_proves_someone(team_server: TeamServer) -> None:
    s = team_server
    bad = [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer assay_", "Bearer assay_0123456789ab_wrong",
           "Bearer " + s.admin[:-3] + "abc", "Bearer eyJhbGciOiJub25lIn0.e30."]
    for header in bad:
        answer = httpx.post(s.url + "/api/v1/models", json={}, headers={"Authorization": header} if header else {})
        assert answer.status_code == 401, (header, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer" and answer.json()["exit_code"] == 2
        assert s.admin.split("_")[2] not in answer.text
    assert httpx.get(s.url + "/api/v1/health").status_code == 200  # health needs nothing


def test_a_revoked_token_stops_at_once(team_server: TeamServer) -> None:
    s = team_server
    token = s.token("dora", "viewer")
    assert s.api(token, "/api/v1/models").status_code == 200
    token_id = token.split("_")[1]
    assert s.cli(s.admin, "token", "revoke", token_id).returncode == 0
    answer = s.api(token, "/api/v1/models")
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]
    listed = json.loads(s.cli(s.admin, "token", "list", "-f", "json").stdout)["tokens"]
    assert all(s.admin.split("_")[2] not in json.dumps(t) for t in listed)  # never a secret
    assert next(t for t in listed if t["id"] == token_id)["revoked_at"]


@pytest.mark.parametrize("edit", ["un-revoke", "extend", "rename", "forge"])
def test_a_token_row_changed_in_the_database_proves_nobody(team_server: TeamServer, edit: str) -> None:
    s = team_server
    token = s.token(f"eve-{edit}", "viewer")
    token_id = token.split("_")[1]
    engine = sa.create_engine(s.env["ASSAY_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg2://"))
    with engine.begin() as db:
        if edit == "un-revoke":
            assert s.cli(s.admin, "token", "revoke", token_id).returncode == 0
            db.execute(sa.text("UPDATE api_tokens SET revoked_at = NULL, revoked_by = NULL WHERE token_id = :t"),
                       {"t": token_id})
        elif edit == "extend":
            db.execute(sa.text("UPDATE api_tokens SET expires_at = :e WHERE token_id = :t"),
                       {"e": "2099-01-01 00:00:00", "t": token_id})
        elif edit == "rename":  # speak for the admin with a viewer's token
            db.execute(sa.text("UPDATE api_tokens SET name = 'root' WHERE token_id = :t"), {"t": token_id})
        else:  # a row inserted with a secret the attacker knows, copied from their own token's hash
            row = db.execute(sa.text("SELECT * FROM api_tokens WHERE token_id = :t"), {"t": token_id}).mappings().one()
            db.execute(sa.text("INSERT INTO api_tokens (token_id, name, secret_hash, created_by, created_at, "
                               "expires_at, entry_idx) VALUES ('f0f0f0f0f0f0', 'root', :h, 'root', :c, :e, :i)"),
                       {"h": row["secret_hash"], "c": row["created_at"], "e": row["expires_at"],
                        "i": row["entry_idx"]})
            token = f"assay_f0f0f0f0f0f0_{token.split('_', 2)[2]}"
    engine.dispose()
    answer = s.api(token, "/api/v1/token/list")
    assert answer.status_code == 401, answer.text
    if edit != "un-revoke":
        assert "changed outside assay" in answer.json()["error"]
    with sa.create_engine(s.env["ASSAY_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg2://")).begin() as db:
        db.execute(sa.text("DELETE FROM api_tokens WHERE token_id IN ('f0f0f0f0f0f0', :t)"), {"t": token_id})


def test_oversized_and_malformed_requests_get_one_line_never_a_traceback(team_server: TeamServer) -> None:
    s = team_server
    big = s.api(s.admin, "/api/v1/models", {"owner": "x" * (2 << 20)})
    assert big.status_code == 413 and "limit" in big.json()["error"]

    def chunks():  # no Content-Length: the limit still holds
        for _ in range(40):
            yield b" " * 65536

    chunked = httpx.post(s.url + "/api/v1/models", content=chunks(), headers={
        "Authorization": f"Bearer {s.admin}", "Content-Type": "application/json"})
    assert chunked.status_code == 413
    for body in (b"{", b"[]", b'{"owner": 5}', b"\xff\xfe", b'{"limit": "many"}'):
        answer = httpx.post(s.url + "/api/v1/audit/log", content=body, headers={
            "Authorization": f"Bearer {s.admin}", "Content-Type": "application/json"})
        assert answer.status_code == 400, (body, answer.text)
        assert "\n" not in answer.json()["error"] and "Traceback" not in answer.text
    headers = s.api(s.admin, "/api/v1/models").headers
    for name in ("x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy",
                 "cache-control"):
        assert name in headers, name
    assert "server" not in headers


def _tar(name: str, data: bytes = b"x") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_server_reads_only_what_its_caller_uploaded(team_server: TeamServer) -> None:
    s = team_server
    alice, mallory = s.token("alice", "submitter"), s.token("mallory", "submitter")
    own_file = s.api(alice, "/api/v1/artifact/add", {"file": "/etc/passwd", "kind": "prompt", "name": "p"})
    assert own_file.status_code == 400 and "reads only files sent to it" in own_file.json()["error"]
    rooted = httpx.post(s.url + "/api/v1/uploads", content=_tar("/assay-rooted.txt"),
                        headers={"Authorization": f"Bearer {alice}"})
    assert rooted.status_code == 200 and not Path("/assay-rooted.txt").exists()  # unpacked inside, as a relative name
    for hostile in (_tar("../escape.txt"), _tar("a/../../escape.txt"), b"not a tar at all" * 100):
        answer = httpx.post(s.url + "/api/v1/uploads", content=hostile, headers={"Authorization": f"Bearer {alice}"})
        assert answer.status_code == 400, answer.text
    upload = httpx.post(s.url + "/api/v1/uploads", content=_tar("prompt.txt", b"hello"),
                        headers={"Authorization": f"Bearer {alice}"}).json()["upload"]
    stolen = s.api(mallory, "/api/v1/artifact/add", {"file": upload, "kind": "prompt", "name": "p"})
    assert stolen.status_code == 403
    used = s.api(alice, "/api/v1/artifact/add", {"file": upload, "kind": "prompt", "name": "p"})
    assert used.status_code == 200 and used.json()["size"] == 5
    again = s.api(alice, "/api/v1/artifact/add", {"file": upload, "kind": "prompt", "name": "p"})
    assert again.status_code == 400  # an upload serves one call


def test_guessing_tokens_is_refused_for_a_while(tmp_path) -> None:  # noqa: ANN001
    env = {"ASSAY_HOME": str(tmp_path / "home"), "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
           "ASSAY_ACTOR": "root"}
    process, url, admin = start(env, "--max-failed-logins", "5")
    try:
        codes = [httpx.post(url + "/api/v1/models", json={}, headers={
            "Authorization": f"Bearer assay_{i:012x}_guess"}).status_code for i in range(8)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
        locked = httpx.post(url + "/api/v1/models", json={}, headers={"Authorization": f"Bearer {admin}"})
        assert locked.status_code == 429  # even the right token waits: the guesser cannot tell
    finally:
        stop(process)


def test_tls_when_given_a_certificate_and_tokens_never_reach_a_log(tmp_path: Path) -> None:
    import datetime
    import ipaddress
    import os
    import ssl
    import subprocess

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from tests.fixtures.cli import ASSAY

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    env = {"ASSAY_HOME": str(tmp_path / "home"), "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
           "ASSAY_ACTOR": "root", "ASSAY_CA_BUNDLE": str(tmp_path / "cert.pem")}
    process, url, admin = start(env, "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    try:
        assert url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        answer = httpx.post(url + "/api/v1/models", json={}, headers={"Authorization": f"Bearer {admin}"},
                            verify=trust)
        assert answer.status_code == 200 and "max-age" in answer.headers["strict-transport-security"]
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is refused by the client
            httpx.post(url + "/api/v1/models", json={}, headers={"Authorization": f"Bearer {admin}"})
        cli = subprocess.run([*ASSAY, "models"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, **env, "ASSAY_URL": url, "ASSAY_TOKEN": admin})
        assert cli.returncode == 0 and cli.stdout == "no models registered\n", cli.stderr
        for bad in ("assay_0123456789ab_guess", admin + "x"):
            httpx.post(url + "/api/v1/models", json={}, headers={"Authorization": f"Bearer {bad}"},
                       verify=trust)
    finally:
        stop(process)
    secret = admin.split("_", 2)[2]
    logs = "".join(line for p in tmp_path.glob("serve-*/*") for line in p.read_text().splitlines(keepends=True)
                   if not line.startswith("admin token (shown once)"))  # --init prints it once, by design
    assert "POST /api/v1/models" in logs and secret not in logs and "guess" not in logs


def test_a_result_file_goes_only_to_its_caller_and_only_once(team_server: TeamServer) -> None:
    s = team_server
    auditor, other = s.token("audrey", "auditor"), s.token("ozzie", "auditor")
    answer = s.api(auditor, "/api/v1/audit/export", {"output": "bundle.zip"},
                   headers={"Accept": "application/vnd.assay.result+json"})
    assert answer.status_code == 200, answer.text
    download = answer.json()["downloads"]["output"]
    assert answer.json()["doc"]["output"] == "bundle.zip"  # the caller's name for it, not the server's path

    def fetch(token: str) -> httpx.Response:
        return httpx.get(f"{s.url}/api/v1/downloads/{download}", headers={"Authorization": f"Bearer {token}"})

    assert fetch(other).status_code == 403
    first = fetch(auditor)
    assert first.status_code == 200 and first.content[:2] == b"PK"  # the zip
    assert fetch(auditor).status_code == 400  # fetched once, then gone
    for bad in ("../../etc/passwd", "x" * 32, "%2e%2e"):
        assert httpx.get(f"{s.url}/api/v1/downloads/{bad}",
                         headers={"Authorization": f"Bearer {auditor}"}).status_code in (400, 404)


def test_abandoned_uploads_and_results_do_not_pile_up(tmp_path: Path) -> None:
    import os

    from assay.server._uploads import KEEP_SECONDS, DownloadStore, UploadStore

    uploads, downloads = UploadStore(tmp_path / "up", 1 << 20, 10), DownloadStore(tmp_path / "down")
    (tmp_path / "up" / "old").mkdir(parents=True)
    stale = downloads.place("alice", "bundle.zip")[1].parent.parent
    fresh = downloads.place("alice", "other.zip")[1].parent.parent
    old = __import__("time").time() - KEEP_SECONDS - 60
    for path in (tmp_path / "up" / "old", stale):
        os.utime(path, (old, old))
    with uploads.spool():
        pass
    downloads.place("bob", "x")
    assert not (tmp_path / "up" / "old").exists() and not stale.exists() and fresh.exists()
