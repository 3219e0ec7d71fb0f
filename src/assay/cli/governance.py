"""``assay role`` and ``assay environments``: who may do what, and the promotion order, registered by admins on
the record (``assay policy set`` sits with the other policy command in ``release.py``). Parses, calls the release
service's governance, renders."""

from __future__ import annotations

from assay.cli._parsing import add_actor, add_format, command, group
from assay.cli._running import emit, open_registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(subparsers: Any) -> None:
    """Add the governance commands to the root parser's ``subparsers``."""
    roles = group(subparsers, "role", "Roles: admin (registers roles, environments, policies) and approver "
                  "(approves, waives).")
    for verb, what, func in (("grant", "Grant ROLE to ACTOR. Needs the admin role; while no admin exists, an actor "
                                       "may grant admin to themself (the first admin).", _role_change("grant")),
                             ("revoke", "Revoke ROLE from ACTOR. Needs the admin role; the last admin stays.",
                              _role_change("revoke"))):
        change = command(roles, verb, what, func)
        change.add_argument("who", metavar="ACTOR")
        change.add_argument("role", metavar="ROLE", choices=("admin", "approver"))
        add_actor(change)
        add_format(change)
    listing = command(roles, "list", "Every actor holding a role.", role_list_cmd)
    add_format(listing)

    envs = group(subparsers, "environments", "Environments: the promotion order, registered by an admin.")
    order = command(envs, "set", "Register the promotion order, first to last (e.g. dev staging production). "
                    "Needs the admin role; recorded in the audit log.", environments_set_cmd)
    order.add_argument("names", nargs="+", metavar="NAME")
    add_actor(order)
    add_format(order)


def _role_change(verb: str) -> Any:
    """The command function of ``role grant`` or ``role revoke``."""

    def run(args: argparse.Namespace) -> int:
        from assay.release import grant_role, revoke_role

        with open_registry(args.actor) as reg:
            doc = (grant_role if verb == "grant" else revoke_role)(reg, args.who, args.role)
        done, direction = ("granted", "to") if verb == "grant" else ("revoked", "from")
        emit(args.fmt, {"schema": "assay.role-change/1.0", "change": done, **doc},
             f"{done} {args.role} {direction} {args.who}\n")
        return 0

    return run


def role_list_cmd(args: argparse.Namespace) -> int:
    """List roles."""
    from assay.release import list_roles

    with open_registry() as reg:
        held = list_roles(reg)
    text = "".join(f"{actor}  {', '.join(r)}\n" for actor, r in held.items()) or "no roles granted yet\n"
    emit(args.fmt, {"schema": "assay.roles/1.0", "roles": held}, text)
    return 0


def environments_set_cmd(args: argparse.Namespace) -> int:
    """Register the promotion order."""
    from assay.release import set_environments

    with open_registry(args.actor) as reg:
        doc = set_environments(reg, tuple(args.names))
    emit(args.fmt, {"schema": "assay.environments/1.0", **doc}, f"environments: {' -> '.join(doc['names'])}\n")
    return 0
