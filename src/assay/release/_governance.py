"""What the gates obey, registered on the record: roles, the environment order and the policy of each environment.

None of these is chosen by the caller of ``promote`` or ``rollback``. Each is set by an admin command whose audit
entry is the registration itself (``role-granted``, ``role-revoked``, ``environments-set``, ``policy-set``), and
the gates derive what is in force from those entries: the log is the one source, so a setting cannot change
without an entry. Until anything is registered the built-in order (dev, staging, production) and the shipped
default policy are in force.

Roles: ``viewer``, ``submitter``, ``approver``, ``deployer``, ``auditor`` and ``admin`` (``ROLES``); approver and
deployer may be granted for one environment. The first admin is bootstrapped: while no admin exists, an actor may
grant ``admin`` to themself, and only that.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import Forbidden, InputError, UsageError
from assay.registry import EnvironmentRow, Registry, check_name
from assay.release.policy import Policy, PolicyError, load_default_policy, load_policy, parse_policy

ROLES = ("viewer", "submitter", "approver", "deployer", "auditor", "admin")
"""The roles an admin grants. On a server every caller needs one (``assay.services`` says which right each call
needs); in the embedded registry the one person who owns its file acts freely except where a role is checked
here: admin (roles, environments, policies, tokens) and approver (approvals, waivers, revocations)."""
SCOPED_ROLES = ("approver", "deployer")
"""Roles an admin may grant for one environment only (``role grant bob deployer --env staging``)."""
DEFAULT_ENVIRONMENTS = ("dev", "staging", "production")
"""The promotion order until ``assay environments set`` registers another."""


# --- roles ----------------------------------------------------------------------------------------------------


def roles(reg: Registry, session: Session) -> dict[str, set[str]]:
    """Actor -> the roles granted and not revoked, replayed from the log (each entry proven to be in it). A role
    granted for one environment only reads ``ROLE@ENV``; actors are keyed by their one spelling (``identity_name``)."""
    held: dict[str, set[str]] = {}
    for entry in reg.entries(session, "role-granted", "role-revoked"):
        payload = entry["payload"]
        grant = payload["role"] + (f"@{payload['environment']}" if payload.get("environment") else "")
        bucket = held.setdefault(_fold(payload["actor"]), set())
        (bucket.add if entry["kind"] == "role-granted" else bucket.discard)(grant)
    return {actor: granted for actor, granted in held.items() if granted}


def _fold(name: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()


def holds(granted: set[str], role: str, env: str | None = None) -> bool:
    """Whether the grants ``granted`` (from ``roles``) give ``role``, in ``env`` when it is scoped."""
    return role in granted or (env is not None and f"{role}@{env}" in granted)


def list_roles(reg: Registry) -> dict[str, list[str]]:
    """Actor -> the roles they hold now (``ROLE@ENV`` for one environment only)."""
    with reg.snapshot() as session:
        return {actor: sorted(held) for actor, held in sorted(roles(reg, session).items())}


def require_role(reg: Registry, session: Session, actor: str, role: str, what: str, env: str | None = None) -> None:
    """Forbidden (exit 2, HTTP 403) unless ``actor`` holds ``role`` (everywhere, or in ``env``)."""
    if not holds(roles(reg, session).get(_fold(actor), set()), role, env):
        where = f" for {env}" if env else ""
        raise Forbidden(f"{actor} may not {what}: it needs the {role} role{where} (an admin grants it: "
                         f"assay role grant {actor} {role}{f' --env {env}' if env else ''})")


def grant_role(reg: Registry, actor: str, role: str, env: str | None = None) -> dict[str, Any]:
    """Grant ``role`` to ``actor`` (for ``env`` only, when given); needs the admin role, except that the first admin
    may grant it to themself."""
    return _change_role(reg, actor, role, env, grant=True)


def revoke_role(reg: Registry, actor: str, role: str, env: str | None = None) -> dict[str, Any]:
    """Revoke ``role`` (or its grant for ``env``) from ``actor``; needs the admin role; the last admin cannot be
    revoked."""
    return _change_role(reg, actor, role, env, grant=False)


def _change_role(reg: Registry, actor: str, role: str, env: str | None, *, grant: bool) -> dict[str, Any]:
    with reg.write() as session:
        return change_role_in(reg, session, actor, role, env, grant=grant)


def change_role_in(reg: Registry, session: Session, actor: str, role: str, env: str | None, *, grant: bool
                   ) -> dict[str, Any]:
    """``grant_role`` / ``revoke_role`` inside the caller's write transaction (a token created with its role)."""
    from assay._text import identity_name

    actor = identity_name(actor, "the actor")
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if env is not None and role not in SCOPED_ROLES:
        raise UsageError(f"the {role} role is granted for every environment; --env scopes only "
                         f"{' and '.join(SCOPED_ROLES)}")
    held = roles(reg, session)
    admins = {a for a, r in held.items() if "admin" in r}
    bootstrap = grant and not admins and role == "admin" and actor == _fold(reg.actor)
    if not bootstrap:
        require_role(reg, session, reg.actor, "admin", "grant or revoke roles")
    if env is not None and env not in environment_names(reg, session):
        raise UsageError(f"unknown environment {env!r} (an admin registers them: assay environments set)")
    key = role + (f"@{env}" if env else "")
    has = key in held.get(actor, set())
    if grant == has:
        raise UsageError(f"{actor} {'already holds' if has else 'does not hold'} the {key} role")
    if not grant and role == "admin" and admins == {actor}:
        raise UsageError(f"{actor} is the last admin; grant admin to someone else first")
    doc = {"actor": actor, "role": role, **({"environment": env} if env else {})}
    reg.log(session, "role-granted" if grant else "role-revoked", doc)
    return doc


# --- environments ---------------------------------------------------------------------------------------------


def environment_names(reg: Registry, session: Session) -> tuple[str, ...]:
    """The registered promotion order (``assay environments set``), else the built-in one."""
    if os.environ.get("ASSAY_ENVIRONMENTS"):
        raise UsageError("ASSAY_ENVIRONMENTS is not read: the environment order is registered by an admin "
                         "(assay environments set NAME ...)")
    registered = reg.entries(session, "environments-set")
    return tuple(registered[-1]["payload"]["names"]) if registered else DEFAULT_ENVIRONMENTS


def set_environments(reg: Registry, names: tuple[str, ...]) -> dict[str, Any]:
    """Register the promotion order, first to last (admin). Environments already used must stay in it."""
    for name in names:
        check_name(name, "environment name")
    if not names or len(set(names)) != len(names):
        raise UsageError("name each environment once, in promotion order")
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "register the environment order")
        used = set(session.scalars(select(EnvironmentRow.name)))
        dropped = sorted(used - set(names))
        if dropped:
            raise UsageError(f"environment(s) {', '.join(dropped)} already have history and must stay in the order")
        for row in session.scalars(select(EnvironmentRow)):  # renumbered with the entry that seals them
            row.position = names.index(row.name)
        doc = {"names": list(names), "previous": list(environment_names(reg, session))}
        reg.log(session, "environments-set", doc)
    return doc


# --- policies -------------------------------------------------------------------------------------------------


def check_policy_environments(policy: Policy, names: tuple[str, ...]) -> None:
    """UsageError when a rule of ``policy`` names an environment outside ``names``: a misspelled name would
    silently apply that rule nowhere."""
    for rule in policy.rules:
        unknown = [e for e in rule.environments or () if e not in names]
        if unknown:
            raise UsageError(f"policy {policy.name!r}: rule {rule.id!r} names unknown environment(s) "
                             f"{', '.join(map(repr, unknown))}; environments: {', '.join(names)}")


def set_policy(reg: Registry, path: Path, environments: tuple[str, ...] = ()) -> dict[str, Any]:
    """Register the gate policy at ``path`` for ``environments`` (default: every environment) (admin). The file is
    stored as evidence by digest (the canonical bytes its digest is taken over); the ``policy-set`` entry names it."""
    policy = load_policy(path)
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "register a policy")
        names = environment_names(reg, session)
        unknown = [e for e in environments if e not in names]
        if unknown:
            raise UsageError(f"unknown environment(s) {', '.join(unknown)}; environments: {', '.join(names)}")
        check_policy_environments(policy, names)
        blob = reg.blobs.put(policy.source)  # the bytes that were parsed: the file is read once
        doc = {"environments": list(environments) or None, "policy": policy.name, "digest": policy.digest,
               "blob": blob.digest, "blobs": [blob.digest]}
        reg.log(session, "policy-set", doc)
    return doc


def registered_policy(reg: Registry, session: Session, env: str) -> Policy:
    """The policy registered for ``env`` (the newest ``policy-set`` entry that covers it), else the shipped
    default. A registered policy whose stored file is missing or altered is an error, never the default."""
    chosen = None
    for entry in reg.entries(session, "policy-set"):
        covered = entry["payload"]["environments"]
        if covered is None or env in covered:
            chosen = entry["payload"]
    if chosen is None:
        return load_default_policy()
    try:
        policy = parse_policy(reg.blobs.get_verified(chosen["blob"]), name=f"registered policy {chosen['policy']}")
        if policy.digest != chosen["digest"]:
            raise InputError("it no longer parses to the policy that was registered")
    except (InputError, PolicyError) as exc:
        raise InputError(f"the policy registered for {env} ({chosen['blob']}) cannot be used: {exc}") from None
    return policy


# --- the log's signing key ------------------------------------------------------------------------------------


def rotate_log_key(reg: Registry) -> dict[str, Any]:
    """Hand the audit log to a new signing key (admin), on the record (``registry.rotate_audit_key``). The old
    public key is kept beside the new one as ``audit-log.retired-<hash>.pub.pem``; old checkpoints still verify."""
    from assay.registry import audit_key_path, finish_audit_key_rotation, rotate_audit_key

    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "rotate the audit-log key")
        doc = rotate_audit_key(session, reg.home, reg.actor)
    retired = finish_audit_key_rotation(reg.home)
    return {**doc, "retired_public_key": str(retired), "key": str(audit_key_path(reg.home))}


def seal_unsealed_rows(reg: Registry) -> dict[str, Any]:
    """Seal every row that has no audit entry (admin): a registry created before rows were sealed (schema 0002)
    has only such rows, and no gate acts on them until they are sealed. One ``records-adopted`` entry names every
    row it seals; a row inserted outside assay is sealed too, so read the list before trusting it."""
    from assay.registry import touch_unsealed

    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "seal unsealed rows")
        keys = touch_unsealed(session)
        if keys:
            reg.log(session, "records-adopted", {"rows": keys})
    return {"sealed": keys}
