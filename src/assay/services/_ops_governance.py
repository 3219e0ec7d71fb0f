"""Governance operations: roles, the environment order, and API tokens (admin)."""

from __future__ import annotations

from dataclasses import dataclass

from assay.services._table import operation
from assay.services.interface import Context, Nothing, Result, Right

_ADMIN = Right("admin")


@dataclass(frozen=True)
class RoleChange:
    """``assay role grant|revoke``."""

    who: str
    role: str
    env: str | None = None


def _role_change(ctx: Context, p: RoleChange, *, grant: bool) -> Result:
    from assay.release import grant_role, revoke_role

    doc = (grant_role if grant else revoke_role)(ctx.registry(), p.who, p.role, p.env)
    done, direction = ("granted", "to") if grant else ("revoked", "from")
    scope = f" for {p.env}" if p.env else ""
    return Result({"schema": "assay.role-change/1.0", "change": done, **doc},
                  f"{done} {p.role}{scope} {direction} {doc['actor']}\n")


@operation("role.grant", "Grant a role to an actor (admin; the first admin may grant admin to themself).",
           RoleChange, _ADMIN, writes=True)
def role_grant(ctx: Context, p: RoleChange) -> Result:
    """Grant a role (the domain checks admin, and lets the first admin in)."""
    return _role_change(ctx, p, grant=True)


@operation("role.revoke", "Revoke a role from an actor (admin).", RoleChange, _ADMIN, writes=True)
def role_revoke(ctx: Context, p: RoleChange) -> Result:
    """Revoke a role."""
    return _role_change(ctx, p, grant=False)


@operation("role.list", "Every actor holding a role.", Nothing, Right("viewer"))
def role_list(ctx: Context, p: Nothing) -> Result:
    """List roles."""
    from assay.release import list_roles

    held = list_roles(ctx.registry())
    return Result({"schema": "assay.roles/1.0", "roles": held},
                  "".join(f"{actor}  {', '.join(r)}\n" for actor, r in held.items()) or "no roles granted yet\n")


@dataclass(frozen=True)
class EnvironmentsSet:
    """``assay environments set``."""

    names: list[str]


@operation("environments.set", "Register the promotion order, first to last.", EnvironmentsSet, _ADMIN, writes=True)
def environments_set(ctx: Context, p: EnvironmentsSet) -> Result:
    """Register the promotion order."""
    from assay.release import set_environments

    doc = set_environments(ctx.registry(), tuple(p.names))
    return Result({"schema": "assay.environments/1.0", **doc}, f"environments: {' -> '.join(doc['names'])}\n")


@dataclass(frozen=True)
class TokenCreate:
    """``assay token create``."""

    name: str
    role: str | None = None
    env: str | None = None
    expires: int | None = None


@operation("token.create", "Create an API token for a name (admin); shown once.", TokenCreate, _ADMIN, writes=True)
def token_create(ctx: Context, p: TokenCreate) -> Result:
    """Create a token."""
    from assay.identity import DEFAULT_TOKEN_DAYS, create_token

    token, info = create_token(ctx.registry(), p.name, role=p.role, env=p.env,
                               days=DEFAULT_TOKEN_DAYS if p.expires is None else p.expires)
    doc = {"schema": "assay.token/1.0", "token": token, **info.to_json()}
    return Result(doc, f"{token}\n  id {info.token_id} for {info.name}, expires {doc['expires_at'][:10]}; shown "
                       "once: keep it in a secret store\n")


@operation("token.list", "Every API token (admin); never their secrets.", Nothing, _ADMIN)
def token_list(ctx: Context, p: Nothing) -> Result:
    """List tokens."""
    from assay.identity import list_tokens

    rows = [t.to_json() for t in list_tokens(ctx.registry())]
    text = "".join(f"{t['id']}  {t['name']:<20} created {t['created_at'][:10]} by {t['created_by']}  expires "
                   f"{(t['expires_at'] or '-')[:10]}  last used {(t['last_used_at'] or 'never')[:19]}"
                   + (f"  REVOKED {t['revoked_at'][:10]}" if t["revoked_at"] else "") + "\n" for t in rows)
    return Result({"schema": "assay.tokens/1.0", "tokens": rows}, text or "no tokens\n")


@dataclass(frozen=True)
class TokenRevoke:
    """``assay token revoke``."""

    id: str


@operation("token.revoke", "Revoke an API token for good (admin).", TokenRevoke, _ADMIN, writes=True)
def token_revoke(ctx: Context, p: TokenRevoke) -> Result:
    """Revoke a token."""
    from assay.identity import revoke_token

    info = revoke_token(ctx.registry(), p.id)
    return Result({"schema": "assay.token-revoked/1.0", **info.to_json()}, f"revoked token {info.token_id} of "
                  f"{info.name}\n")


@dataclass(frozen=True)
class TrustAdd:
    """``assay trust add``."""

    key_file: str
    name: str


@operation("trust.add", "Trust a signer's public key or CA certificates, on the record.", TrustAdd, _ADMIN,
           uploads=("key_file",), writes=True)
def trust_add(ctx: Context, p: TrustAdd) -> Result:
    """Add a trusted key."""
    from assay.release import add_trusted_key

    path = ctx.path(p.key_file)
    assert path is not None
    doc = add_trusted_key(ctx.registry(), path, p.name)
    return Result({"schema": "assay.trust/1.0", **doc}, f"trusted {ctx.shown(p.key_file)} as {doc['name']}  "
                  f"{doc['digest']}\n")


@dataclass(frozen=True)
class TrustRemove:
    """``assay trust remove``."""

    name: str


@operation("trust.remove", "Stop trusting a signer.", TrustRemove, _ADMIN, writes=True)
def trust_remove(ctx: Context, p: TrustRemove) -> Result:
    """Remove a trusted key."""
    from assay.release import remove_trusted_key

    doc = remove_trusted_key(ctx.registry(), p.name)
    return Result({"schema": "assay.trust-removed/1.0", **doc}, f"no longer trusted: {doc['name']}\n")


@operation("trust.list", "The signers trusted on the record.", Nothing, Right("viewer"))
def trust_list(ctx: Context, p: Nothing) -> Result:
    """List trusted keys."""
    from assay.release import list_trusted_keys

    rows = list_trusted_keys(ctx.registry())
    return Result({"schema": "assay.trusted/1.0", "trusted": rows},
                  "".join(f"{r['name']}  {r['digest']}\n" for r in rows) or "nothing trusted on the record\n")
