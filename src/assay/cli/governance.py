"""``assay role`` and ``assay environments``: who may do what, and the promotion order, registered by admins on
the record (``assay policy set`` sits with the other policy command in ``release.py``). Parses, calls the release
service's governance, renders."""

from __future__ import annotations

from assay.cli._parsing import add_actor, add_format, command, days, group
from assay.cli._running import operation_command

ROLES = ("viewer", "submitter", "approver", "deployer", "auditor", "admin")  # assay.release.ROLES, without its import

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def register(subparsers: Any) -> None:
    """Add the governance commands to the root parser's ``subparsers``."""
    roles = group(subparsers, "role", "Roles: viewer, submitter, approver, deployer, auditor, admin (docs/server.md "
                  "has the matrix).")
    for verb, what, func in (("grant", "Grant ROLE to ACTOR. Needs the admin role; while no admin exists, an actor "
                                       "may grant admin to themself (the first admin).", _role_change("grant")),
                             ("revoke", "Revoke ROLE from ACTOR. Needs the admin role; the last admin stays.",
                              _role_change("revoke"))):
        change = command(roles, verb, what, func)
        change.add_argument("who", metavar="ACTOR")
        change.add_argument("role", metavar="ROLE", choices=ROLES)
        change.add_argument("--env", help="Only in this environment (approver and deployer).")
        add_actor(change)
        add_format(change)
    listing = command(roles, "list", "Every actor holding a role.", role_list_cmd)
    add_format(listing)

    tokens = group(subparsers, "token", "API tokens of the team server (admin): shown once, stored hashed.")
    create = command(tokens, "create", "Create a token that speaks for NAME, granting NAME the role if it lacks it; "
                     "printed once. While no admin exists, the first admin token may be made.", token_create_cmd)
    create.add_argument("--name", required=True, help="Who the token speaks for (a person or a bot).")
    create.add_argument("--role", choices=ROLES, help="Grant NAME this role too (if it does not hold it).")
    create.add_argument("--env", help="The role only in this environment (approver and deployer).")
    create.add_argument("--expires", type=days, metavar="DAYS", help="Lifetime: 90d, 30 ... [default: 90 days; at "
                        "most 366].")
    add_actor(create)
    add_format(create)
    listing = command(tokens, "list", "Every token: id, name, created, expires, last used, revoked. Never a secret.",
                      token_list_cmd)
    add_format(listing)
    revoke = command(tokens, "revoke", "Revoke token ID for good.", token_revoke_cmd)
    revoke.add_argument("id", metavar="ID")
    add_actor(revoke)
    add_format(revoke)

    trust = group(subparsers, "trust", "Trusted signers, on the record (admin): the keys and CAs the gate's "
                  "signature-trusted rule accepts.")
    add_key = command(trust, "add", "Trust KEY_FILE (a PEM public key or CA certificates) as NAME.", trust_add_cmd)
    add_key.add_argument("key_file", metavar="KEY_FILE")
    add_key.add_argument("--name", required=True, help="What to call it, e.g. ml-team.")
    add_actor(add_key)
    add_format(add_key)
    drop = command(trust, "remove", "Stop trusting NAME.", trust_remove_cmd)
    drop.add_argument("name", metavar="NAME")
    add_actor(drop)
    add_format(drop)
    add_format(command(trust, "list", "What is trusted on the record.", trust_list_cmd))

    hooks = group(subparsers, "webhook", "Webhooks on registry and release events (admin): signed the Standard "
                  "Webhooks way, retried with backoff, every attempt logged.")
    add = command(hooks, "add", "Send EVENT types to URL; prints the signing secret once.", webhook_add_cmd)
    add.add_argument("url", metavar="URL")
    add.add_argument("--event", action="append", required=True, metavar="TYPE", help="An event type; repeatable: "
                     "version.accepted, version.rejected, release.created, approval.created, waiver.created, "
                     "release.promoted, release.canary, release.rolled_back, canary.aborted, release.revoked, "
                     "gate.refused.")
    add.add_argument("--env", help="Only events of this environment (events without one still come).")
    add_actor(add)
    add_format(add)
    hook_list = command(hooks, "list", "Every subscription (never a secret).", webhook_list_cmd)
    add_format(hook_list)
    remove = command(hooks, "remove", "Stop subscription ID.", webhook_remove_cmd)
    remove.add_argument("id", type=int, metavar="ID")
    add_actor(remove)
    add_format(remove)
    log = command(hooks, "deliveries", "The delivery log, newest first: each attempt, its status and time.",
                  webhook_deliveries_cmd)
    log.add_argument("--webhook", type=int, metavar="ID", help="Only this subscription's.")
    log.add_argument("--limit", type=int, default=100, metavar="N", help="[default: 100].")
    add_format(log)
    again = command(hooks, "redeliver", "Send event EVENT_ID (evt_N) again to its subscribers.",
                    webhook_redeliver_cmd)
    again.add_argument("event_id", metavar="EVENT_ID")
    again.add_argument("--webhook", type=int, metavar="ID", help="Only to this subscription.")
    add_actor(again)
    add_format(again)

    envs = group(subparsers, "environments", "Environments: the promotion order, registered by an admin.")
    order = command(envs, "set", "Register the promotion order, first to last (e.g. dev staging production). "
                    "Needs the admin role; recorded in the audit log.", environments_set_cmd)
    order.add_argument("names", nargs="+", metavar="NAME")
    add_actor(order)
    add_format(order)


def _role_change(verb: str) -> Any:
    """The command function of ``role grant`` or ``role revoke``."""
    return operation_command(f"role.{verb}")


role_list_cmd = operation_command("role.list")
environments_set_cmd = operation_command("environments.set")
token_create_cmd = operation_command("token.create")
token_list_cmd = operation_command("token.list")
token_revoke_cmd = operation_command("token.revoke")
webhook_add_cmd = operation_command("webhook.add")
webhook_list_cmd = operation_command("webhook.list")
webhook_remove_cmd = operation_command("webhook.remove")
webhook_deliveries_cmd = operation_command("webhook.deliveries")
webhook_redeliver_cmd = operation_command("webhook.redeliver")
trust_add_cmd = operation_command("trust.add")
trust_remove_cmd = operation_command("trust.remove")
trust_list_cmd = operation_command("trust.list")
