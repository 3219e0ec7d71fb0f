"""OIDC bearer tokens: a JWT from the company's identity provider, checked against the issuer's keys (JWKS from a
URL or a file) for signature, issuer, audience and expiry. PyJWT does the checking; this names the policy.

The name a JWT speaks for is one claim (``email`` by default; refused when ``email_verified`` is false); roles are
granted to that name like any other. The audit log records ``oidc:ISSUER#SUBJECT``. Only asymmetric algorithms
are accepted: ``none`` and the HMAC family (whose key a JWKS would have to publish) never are.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from assay._text import identity_name
from assay.errors import ConfigError, Unauthenticated, UsageError
from assay.identity.interface import Authenticator, Principal

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Signature algorithms a JWT may use."""
LEEWAY_SECONDS = 30
"""Clock skew allowed on ``exp``, ``nbf`` and ``iat``."""
MAX_JWT_BYTES = 16384
"""A bearer JWT larger than this is refused unread."""


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """Which issuer to trust: its ``issuer`` URL, the ``audience`` its tokens must name (this server), its keys
    (``jwks``: an https URL, or a file) and the claim that names the person."""

    issuer: str
    audience: str
    jwks: str
    name_claim: str = "email"

    @classmethod
    def from_environment(cls) -> OidcSettings | None:
        """``ASSAY_OIDC_ISSUER``, ``ASSAY_OIDC_AUDIENCE``, ``ASSAY_OIDC_JWKS`` (and ``ASSAY_OIDC_NAME_CLAIM``); None
        when no issuer is set."""
        issuer = os.environ.get("ASSAY_OIDC_ISSUER")
        if not issuer:
            return None
        audience, keys = os.environ.get("ASSAY_OIDC_AUDIENCE"), os.environ.get("ASSAY_OIDC_JWKS")
        if not audience or not keys:
            raise ConfigError("ASSAY_OIDC_ISSUER needs ASSAY_OIDC_AUDIENCE and ASSAY_OIDC_JWKS (a URL or a file)")
        return cls(issuer, audience, keys, os.environ.get("ASSAY_OIDC_NAME_CLAIM") or "email")


class OidcAuthenticator(Authenticator):
    """Checks JWTs of one issuer."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: jwt.PyJWKClient | None = None
        self._file_keys: jwt.PyJWKSet | None = None
        if settings.jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(settings.jwks, cache_keys=True, lifespan=300, timeout=10)
        else:
            try:
                self._file_keys = jwt.PyJWKSet.from_json(Path(settings.jwks).read_text(encoding="utf-8"))
            except (OSError, jwt.PyJWTError, ValueError) as exc:
                raise ConfigError(f"cannot read the JWKS {settings.jwks}: {exc}") from None

    def accepts(self, bearer: str) -> bool:
        """A JWT: three base64url parts."""
        return bearer.count(".") == 2

    def authenticate(self, bearer: str) -> Principal:
        """The principal of a valid JWT of the issuer; Unauthenticated naming what failed."""
        if len(bearer) > MAX_JWT_BYTES:
            raise Unauthenticated("the bearer token is too large")
        try:
            header = jwt.get_unverified_header(bearer)
            if header.get("alg") not in ALGORITHMS:
                raise Unauthenticated(f"JWT algorithm {header.get('alg')!r} is not accepted")
            claims = jwt.decode(bearer, self._key(bearer), algorithms=list(ALGORITHMS), audience=self.settings.audience,
                                issuer=self.settings.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"JWT refused: {exc}") from None
        return self._principal(claims)

    def _key(self, bearer: str) -> Any:
        if self._client is not None:
            try:
                with self._lock:
                    return self._client.get_signing_key_from_jwt(bearer).key
            except jwt.PyJWKClientConnectionError as exc:
                raise Unauthenticated(f"the issuer's keys cannot be fetched: {exc}") from None
        assert self._file_keys is not None
        kid = jwt.get_unverified_header(bearer).get("kid")
        keys = [k for k in self._file_keys.keys if kid is None or k.key_id == kid]
        if not keys:
            raise Unauthenticated(f"no key {kid!r} in the issuer's JWKS")
        return keys[0].key

    def _principal(self, claims: dict[str, Any]) -> Principal:
        name = claims.get(self.settings.name_claim)
        if not isinstance(name, str) or not name:
            raise Unauthenticated(f"the JWT has no {self.settings.name_claim!r} claim to name its holder")
        if self.settings.name_claim == "email" and claims.get("email_verified") is False:
            raise Unauthenticated("the JWT's email is not verified")
        try:
            name = identity_name(name, f"the JWT's {self.settings.name_claim}")
        except UsageError as exc:
            raise Unauthenticated(str(exc)) from None
        return Principal(name=name, credential=f"oidc:{claims['iss']}#{claims['sub']}")
