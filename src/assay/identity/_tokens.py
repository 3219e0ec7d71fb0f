"""API tokens: ``assay_<id>_<secret>``, shown once, kept as an scrypt hash in a sealed row.

A token speaks for a name; the roles are the name's (granted on the record). Creating or revoking one is an audit
entry that seals the row, so a token row inserted, edited or un-revoked outside assay authenticates nobody: the
check reads the row's seal before it believes the row. scrypt is the slow hash (``hashlib``, OpenSSL's); a token
once verified is remembered in memory by a SHA-256 of the whole token, so the slow hash runs once per token per
process while expiry, revocation and the seal are read on every call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from assay._text import identity_name
from assay.errors import Unauthenticated, UsageError
from assay.identity.interface import Authenticator, Principal, TokenInfo
from assay.registry import Registry, TokenRow, TokenUseRow
from assay.release import change_role_in, require_role, roles

PREFIX = "assay_"
DEFAULT_TOKEN_DAYS = 90
"""A token expires after this many days unless ``--expires`` says otherwise."""
MAX_TOKEN_DAYS = 366
"""No token lives longer than this."""
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 << 20}  # ~16 MiB and tens of milliseconds per check
_LAST_USE_EVERY = 60.0  # seconds between two writes of a token's last use, per process


def _hash_secret(secret: str, salt: bytes) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)  # type: ignore[arg-type]
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def _matches(secret: str, stored: str) -> bool:
    try:
        scheme, salt, _ = stored.split("$")
        return scheme == "scrypt" and hmac.compare_digest(_hash_secret(secret, base64.b64decode(salt)), stored)
    except (ValueError, TypeError):
        return False


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def create_token(reg: Registry, name: str, *, role: str | None = None, env: str | None = None,
                 days: int = DEFAULT_TOKEN_DAYS) -> tuple[str, TokenInfo]:
    """A new token for ``name`` (and ``role`` granted to the name, for ``env`` only when given, if not held yet);
    returns the token, to be shown once, and what is kept. Needs the admin role, except while no admin exists: the
    first admin token may then be made (``assay serve --init``)."""
    name = identity_name(name, "the token's name")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise UsageError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days (max_token_days), not {days}")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    at = datetime.now(UTC)
    with reg.write() as session:
        held = roles(reg, session)
        bootstrap = role == "admin" and not any("admin" in r for r in held.values())
        if not bootstrap:
            require_role(reg, session, reg.actor, "admin", "create tokens")
        row = TokenRow(token_id=token_id, name=name, secret_hash=_hash_secret(secret, secrets.token_bytes(16)),
                       created_by=reg.actor, created_at=at, expires_at=at + timedelta(days=days))
        session.add(row)
        session.flush()
        info = _info(row, None)
        key = None if role is None else role + (f"@{env}" if env else "")
        grant = key is not None and key not in held.get(name, set())
        reg.log(session, "token-created", {"token": token_id, "name": name, "expires_at": info.to_json()["expires_at"]},
                sign=not grant)
        if grant:  # the first admin's token: its name grants itself admin, as grant_role lets the first admin do
            change_role_in(reg.acting(name, reg.identity) if bootstrap else reg, session, name, role,  # type: ignore[arg-type]
                           env, grant=True)
    return f"{PREFIX}{token_id}_{secret}", info


def list_tokens(reg: Registry) -> list[TokenInfo]:
    """Every token, newest first (admin)."""
    with reg.snapshot() as session:
        require_role(reg, session, reg.actor, "admin", "list tokens")
        used = {u.token_id: u.last_used_at for u in session.scalars(select(TokenUseRow))}
        rows = session.scalars(select(TokenRow).order_by(TokenRow.id.desc())).all()
        return [_info(r, used.get(r.token_id)) for r in rows]


def revoke_token(reg: Registry, token_id: str) -> TokenInfo:
    """Revoke a token for good (admin); recorded in the audit log."""
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "revoke tokens")
        row = session.scalars(select(TokenRow).where(TokenRow.token_id == token_id)).first()
        if row is None:
            from assay.registry import NotFound

            raise NotFound(f"no token {token_id!r} (assay token list shows them)")
        if row.revoked_at is not None:
            raise UsageError(f"token {token_id} was revoked already, at {_aware(row.revoked_at):%Y-%m-%d %H:%M}")
        row.revoked_at, row.revoked_by = datetime.now(UTC), reg.actor
        session.flush()
        reg.log(session, "token-revoked", {"token": token_id, "name": row.name})
        return _info(row, None)


def _info(row: TokenRow, last_used: datetime | None) -> TokenInfo:
    return TokenInfo(row.token_id, row.name, row.created_by, _aware(row.created_at),  # type: ignore[arg-type]
                     _aware(row.expires_at), _aware(row.revoked_at), _aware(last_used))


class TokenAuthenticator(Authenticator):
    """Checks ``assay_<id>_<secret>`` against the registry: the row must exist, be sealed by its audit entry, be
    neither revoked nor expired, and its hash must match."""

    def __init__(self, reg: Registry) -> None:
        self._reg = reg
        self._verified: dict[bytes, str] = {}  # sha256(token) -> token id, once scrypt said yes
        # sha256(token) -> (log size, name, expiry) of a token found valid: while the log has not grown, nothing on
        # the record changed (a revocation appends), so the row, its seal and its proof need not be read again
        self._valid: dict[bytes, tuple[int, str, datetime | None]] = {}
        self._last_write: dict[str, float] = {}
        self._lock = threading.Lock()

    def accepts(self, bearer: str) -> bool:
        """Whether ``bearer`` has the form of an assay token."""
        return bearer.startswith(PREFIX)

    def authenticate(self, bearer: str) -> Principal:
        """The name ``bearer`` speaks for, or Unauthenticated (the message never repeats the secret)."""
        token_id, _, secret = bearer[len(PREFIX):].partition("_")
        if not token_id or not secret or len(bearer) > 200:
            raise Unauthenticated("malformed token")
        seen = hashlib.sha256(bearer.encode()).digest()
        with self._reg.snapshot() as session:
            size = self._reg.log_size(session)
            known = self._valid.get(seen)
            if known is not None and known[0] == size:
                _, name, expires = known
                now = datetime.now(UTC)
                if expires is not None and expires <= now:
                    raise Unauthenticated(f"token {token_id} expired at {expires:%Y-%m-%d %H:%M} UTC")
                self._note_use(token_id, now)
                return Principal(name=name, credential=f"token:{token_id}")
            row = session.scalars(select(TokenRow).where(TokenRow.token_id == token_id)).first()
            if row is None:
                raise Unauthenticated("unknown token")
            if self._reg.unsealed(session, [row]):
                raise Unauthenticated(f"token {token_id} was changed outside assay and proves nobody "
                                      "(assay audit verify names the row)")
            if self._verified.get(seen) != token_id:
                if not _matches(secret, row.secret_hash):
                    raise Unauthenticated("unknown token")
                with self._lock:
                    self._verified[seen] = token_id
            now = datetime.now(UTC)
            if row.revoked_at is not None:
                raise Unauthenticated(f"token {token_id} was revoked")
            expires = _aware(row.expires_at)
            if expires is not None and expires <= now:
                raise Unauthenticated(f"token {token_id} expired at {expires:%Y-%m-%d %H:%M} UTC")
            name = row.name
            with self._lock:
                self._valid[seen] = (size, name, expires)
        self._note_use(token_id, now)
        return Principal(name=name, credential=f"token:{token_id}")

    def _note_use(self, token_id: str, at: datetime) -> None:
        """Write the last use at most once a minute per token per process: a read must not cost a write."""
        tick = time.monotonic()
        with self._lock:
            if tick - self._last_write.get(token_id, -_LAST_USE_EVERY) < _LAST_USE_EVERY:
                return
            self._last_write[token_id] = tick
        from sqlalchemy.orm import Session

        with Session(self._reg.engine) as session, session.begin():
            use = session.get(TokenUseRow, token_id)
            if use is None:
                session.add(TokenUseRow(token_id=token_id, last_used_at=at))
            else:
                use.last_used_at = at
