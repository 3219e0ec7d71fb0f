"""What the identity domain hands its callers: who is acting, and how a credential becomes one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a call acts for: ``name`` (the one spelling roles are granted to and the audit log records) and the
    ``credential`` that proved it (``token:ID``, ``oidc:ISSUER#SUBJECT``; None in the embedded registry, where the
    name is the owner's own account)."""

    name: str
    credential: str | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as listed: never its secret."""

    token_id: str
    name: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (times in ISO 8601)."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {"id": self.token_id, "name": self.name, "created_by": self.created_by,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "revoked_at": iso(self.revoked_at), "last_used_at": iso(self.last_used_at)}


class Authenticator(ABC):
    """Turns the bearer credential of a request into a Principal."""

    @abstractmethod
    def accepts(self, bearer: str) -> bool:
        """Whether ``bearer`` has this authenticator's form (an assay token, a JWT)."""

    @abstractmethod
    def authenticate(self, bearer: str) -> Principal:
        """The principal ``bearer`` proves; ``assay.errors.Unauthenticated`` when it proves nobody."""
