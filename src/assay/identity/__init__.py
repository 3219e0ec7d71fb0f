"""Identity: who is acting, from a credential the person cannot forge.

API tokens (``create_token``, ``list_tokens``, ``revoke_token``; ``TokenAuthenticator`` checks one) are random, shown
once, stored as a slow hash (scrypt), sealed in the audit log with their expiry and revocation; OIDC bearer JWTs
(``OidcAuthenticator``) are checked against the issuer's keys. Roles are granted to names
(``assay.release.grant_role``); a credential speaks for a name. Names load on first use: ``Principal`` costs no
database library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay._lazy import lazy_exports
from assay.identity.interface import Authenticator, Principal, TokenInfo

if TYPE_CHECKING:
    from assay.identity._oidc import OidcAuthenticator, OidcSettings
    from assay.identity._tokens import (
        DEFAULT_TOKEN_DAYS,
        MAX_TOKEN_DAYS,
        TokenAuthenticator,
        create_token,
        list_tokens,
        revoke_token,
    )

__getattr__ = lazy_exports(__name__, {
    "OidcAuthenticator": "_oidc", "OidcSettings": "_oidc", "DEFAULT_TOKEN_DAYS": "_tokens", "MAX_TOKEN_DAYS": "_tokens",
    "TokenAuthenticator": "_tokens", "create_token": "_tokens", "list_tokens": "_tokens", "revoke_token": "_tokens"})

__all__ = ["DEFAULT_TOKEN_DAYS", "MAX_TOKEN_DAYS", "Authenticator", "OidcAuthenticator", "OidcSettings", "Principal",
           "TokenAuthenticator", "TokenInfo", "create_token", "list_tokens", "revoke_token"]
