"""Single sign-on: JWTs signed by a key this test owns, its JWKS served over HTTP on loopback (or read from a file),
checked by a real server process. Verification is never turned off: each forgery below must be refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.server.conftest import free_port, start, stop

AUDIENCE = "assay-test"


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    doc = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**doc, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """An identity provider: a signing key, its JWKS on http://127.0.0.1:PORT/jwks.json, and a server trusting it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = json.dumps({"keys": [_jwk(key, "k1")]}).encode()

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Keys)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("oidc")
    env = {"ASSAY_HOME": str(folder / "home"), "ASSAY_DATABASE_URL": f"sqlite:///{folder / 'r.db'}",
           "ASSAY_ACTOR": "root", "ASSAY_MAX_FAILED_LOGINS": "1000"}
    process, server, admin = start(env, "--oidc-issuer", url, "--oidc-audience", AUDIENCE, "--oidc-jwks",
                                   f"{url}/jwks.json")
    (folder / "jwks.json").write_bytes(jwks)
    try:
        yield {"key": key, "iss": url, "server": server, "admin": admin, "env": env, "jwks_file": folder / "jwks.json"}
    finally:
        stop(process)
        httpd.shutdown()


def _token(issuer: dict, key: object = None, alg: str = "RS256", kid: str = "k1", **claims: object) -> str:
    now = int(time.time())
    body = {"iss": issuer["iss"], "aud": AUDIENCE, "sub": "u-123", "email": "Carol@Example.com",
            "email_verified": True, "iat": now, "exp": now + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key or issuer["key"], algorithm=alg, headers={"kid": kid})


def _hmac_token(claims: dict, secret: bytes) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the issuer's public key (by hand: PyJWT refuses to)."""
    def part(doc: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _whoami(server: str, token: str) -> httpx.Response:
    return httpx.get(server + "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})


def test_a_jwt_of_the_issuer_names_the_person_and_the_audit_log_names_the_subject(issuer: dict) -> None:
    server, admin = issuer["server"], issuer["admin"]
    granted = httpx.post(server + "/api/v1/role/grant", json={"who": "carol@example.com", "role": "approver"},
                         headers={"Authorization": f"Bearer {admin}"})
    assert granted.status_code == 200, granted.text
    me = _whoami(server, _token(issuer))
    assert me.status_code == 200, me.text
    assert me.json() == {"name": "carol@example.com", "credential": f"oidc:{issuer['iss']}#u-123",
                         "roles": ["approver"]}
    # the right comes from the role, not from the JWT: carol cannot deploy
    denied = httpx.post(server + "/api/v1/promote", json={"release": "r", "env": "dev"},
                        headers={"Authorization": f"Bearer {_token(issuer)}"})
    assert denied.status_code == 403 and "deployer" in denied.json()["error"]


def test_every_forgery_is_refused(issuer: dict) -> None:
    server = issuer["server"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    public_pem = issuer["key"].public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = {
        "expired": _token(issuer, exp=now - 3600, iat=now - 7200),
        "wrong audience": _token(issuer, aud="someone-else"),
        "wrong issuer": _token(issuer, iss="https://evil.example"),
        "another key, same kid": _token(issuer, key=stranger),
        "unknown kid": _token(issuer, key=stranger, kid="k9"),
        "no expiry": _token(issuer, exp=None),
        "email not verified": _token(issuer, email_verified=False),
        "no name claim": _token(issuer, email=None),
        "invisible character in the name": _token(issuer, email="carol\u200b@example.com"),
        "alg none": jwt.encode({"iss": issuer["iss"], "aud": AUDIENCE, "sub": "x", "exp": now + 300,
                                "email": "carol@example.com"}, None, algorithm="none"),
        "HS256 keyed with the public key": _hmac_token({"iss": issuer["iss"], "aud": AUDIENCE, "sub": "x",
                                                        "exp": now + 300, "email": "carol@example.com"}, public_pem),
        "garbage": "a.b.c",
    }
    for what, token in forged.items():
        answer = _whoami(server, token)
        assert answer.status_code == 401, (what, answer.text)
        assert "Traceback" not in answer.text


def test_the_issuers_keys_can_come_from_a_file(issuer: dict, tmp_path: Path) -> None:
    env = {**issuer["env"], "ASSAY_HOME": str(tmp_path / "home"), "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}
    process, server, _ = start(env, "--oidc-issuer", issuer["iss"], "--oidc-audience", AUDIENCE, "--oidc-jwks",
                               str(issuer["jwks_file"]))
    try:
        assert _whoami(server, _token(issuer)).json()["name"] == "carol@example.com"
    finally:
        stop(process)
