"""``assay release create``, ``gate check``, ``approve``, ``waive``, ``promote``, ``rollback``, ``status``,
``history`` and ``policy test``. Parses, calls the services, renders. ``assay audit`` is in ``audit.py``."""

from __future__ import annotations

from assay.cli._parsing import Arguments, add_actor, add_format, command, group, moment, path
from assay.cli._running import emit, operation_command
from assay.errors import UsageError

TYPE_CHECKING = False  # typing and datetime cost milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any

MAX_EVIDENCE_BYTES = 16 << 20
"""``policy test --input``: an evidence document larger than this is refused."""
_ENV_HELP = "The environment (the order an admin registered; built in: dev, staging, production)."
_WHAT_IF_HELP = ("What-if: judge under this policy file (or $ASSAY_POLICY) instead of the one registered for ENV. "
                 "promote never reads either.")


def register(subparsers: Any) -> None:
    """Add the release commands to the root parser's ``subparsers``."""
    releases = group(subparsers, "release", "Releases: a model version plus prompts, tool schemas and parameters, "
                     "by digest.")
    create = command(releases, "create", "Create an immutable release.", release_create_cmd)
    create.add_argument("name", metavar="NAME", help="Release name, e.g. support-bot-2026-11-21.")
    create.add_argument("--model", required=True, action="append", metavar="[ROLE=]NAME@VERSION",
                        help="A model version; repeatable (e.g. embedder=acme/embed@2 generator=acme/gen@5): the "
                        "models move, and roll back, as one release.")
    create.add_argument("--artifact", action="append", default=[], metavar="KIND:NAME@VERSION",
                        help="KIND:NAME@VERSION of a registered artifact; repeatable.")
    create.add_argument("--params", type=path, metavar="FILE", help="Inference parameters file (stored by digest).")
    create.add_argument("--note", help="Free text.")
    add_actor(create)
    add_format(create)

    revoke = command(releases, "revoke", "Withdraw RELEASE for good (approver role): no gate passes it again and no "
                     "rollback returns to it. Traffic is not moved: roll back where it runs.", release_revoke_cmd)
    revoke.add_argument("name", metavar="RELEASE")
    revoke.add_argument("--reason", required=True, help="Why (recorded in the audit log).")
    add_actor(revoke)
    add_format(revoke)

    show = command(releases, "show", "Everything about RELEASE: model versions, artifacts and parameters by digest, "
                   "approvals, waivers, every gate that judged it, where it runs, whether it is revoked.",
                   release_show_cmd)
    show.add_argument("name", metavar="RELEASE")
    add_format(show)

    for name, what in (("approvals", "Every approval (who, which release, which environment, when, role, comment)."),
                       ("waivers", "Every waiver (rule, release, environment, approver, reason, expiry).")):
        listing = command(subparsers, name, what, _listing_cmd(name))
        listing.add_argument("--release", help="Only those of this release.")
        listing.add_argument("--env", help="Only those for this environment.")
        add_format(listing)

    gates = group(subparsers, "gate", "Gates: judge a release for an environment.")
    check = command(gates, "check", "Evaluate the policy for RELEASE in ENV; changes nothing. Exit 0 pass, 1 fail.",
                    gate_check_cmd)
    check.add_argument("release", metavar="RELEASE")
    _env(check)
    check.add_argument("--policy", type=path, metavar="FILE", help=_WHAT_IF_HELP)
    check.add_argument("--save-evidence", dest="evidence_out", type=path, metavar="FILE",
                       help="Also write the evidence document (for `assay policy test`).")
    add_format(check)

    approve = command(subparsers, "approve", "Approve RELEASE for ENV as the current actor (not its submitter).",
                      approve_cmd)
    approve.add_argument("release", metavar="RELEASE")
    _env(approve)
    approve.add_argument("--comment")
    approve.add_argument("--role", help="The approver's role, e.g. security.")
    add_actor(approve)
    add_format(approve)

    waive = command(subparsers, "waive", "Waive one rule for one release in one environment until a date.",
                    waive_cmd)
    waive.add_argument("rule_id", metavar="RULE_ID", help="The policy rule id to waive.")
    waive.add_argument("--release", required=True)
    _env(waive)
    waive.add_argument("--reason", required=True)
    waive.add_argument("--expires", required=True, type=moment(end_of_day=True),
                       help="YYYY-MM-DD (through that day, UTC) or ISO time.")
    add_actor(waive)
    add_format(waive)

    promote = command(subparsers, "promote", "Make RELEASE active in ENV (or a canary) if the gate passes; exit 1 "
                      "when it fails, and then nothing changes.", promote_cmd)
    promote.add_argument("release", metavar="RELEASE")
    _env(promote)
    promote.add_argument("--canary", type=int, metavar="PERCENT", help="Deploy as a canary with this percent of "
                         "traffic (1-99).")
    promote.add_argument("--replaces", metavar="RELEASE", help="Promote only if RELEASE (or 'none': nothing) is what "
                         "ENV runs when the gate judges; else exit 2 and nothing changes. Of several racing "
                         "promotions stating the same --replaces, exactly one wins.")
    add_actor(promote)
    add_format(promote)

    rollback = command(subparsers, "rollback", "Switch ENV back to the previous known-good release after "
                       "re-checking it; --dry-run is a fire drill that changes nothing.", rollback_cmd)
    _env(rollback)
    rollback.add_argument("--to", help="Target release [default: the one the active release replaced].")
    rollback.add_argument("--dry-run", action="store_true", help="Run every check, change nothing.")
    rollback.add_argument("--reason", help="Why (recorded in the audit log with the rollback).")
    add_actor(rollback)
    add_format(rollback)

    canaries = group(subparsers, "canary", "Canaries: a release taking part of an environment's traffic "
                     "(start one with promote --canary).")
    abort = command(canaries, "abort", "Stop the canary in ENV: all traffic back to the active release, recorded "
                    "with the reason. Needs no gate: it admits nothing new.", canary_abort_cmd)
    _env(abort)
    abort.add_argument("--reason", required=True, help="Why (recorded in the audit log).")
    add_actor(abort)
    add_format(abort)

    status = command(subparsers, "status", "What runs where, since when, on what evidence.", status_cmd)
    status.add_argument("--env", help="Only this environment.")
    status.add_argument("--at", type=moment(), metavar="TIME", help="What ran where at TIME (ISO 8601, or "
                        "YYYY-MM-DD for the start of that day; UTC unless it says otherwise) [default: now].")
    add_format(status)

    history = command(subparsers, "history", "Every deployment, canary and rollback of ENV.", history_cmd)
    _env(history)
    add_format(history)

    policies = group(subparsers, "policy", "Policies: register the gate policy of environments; test a policy "
                     "file against a saved evidence document.")
    policy_set = command(policies, "set", "Register POLICY_FILE as the gate policy of the environments named (default: "
                         "every environment). Needs the admin role; recorded in the audit log.", policy_set_cmd)
    policy_set.add_argument("policy_file", type=path, metavar="POLICY_FILE")
    policy_set.add_argument("--env", action="append", default=[], metavar="ENV",
                            help="An environment it governs; repeatable [default: every environment].")
    add_actor(policy_set)
    add_format(policy_set)
    test = command(policies, "test", "Run POLICY_FILE against EVIDENCE.json. Exit 0 pass, 1 fail, 2 bad input.",
                   policy_test_cmd)
    test.add_argument("policy_file", type=path, metavar="POLICY_FILE")
    test.add_argument("--input", dest="input_file", type=path, required=True, metavar="EVIDENCE.json")
    test.add_argument("--env", help="Environment [default: the evidence's deployment.environment].")
    add_format(test)


def _env(parser: Arguments) -> None:
    parser.add_argument("--env", required=True, help=_ENV_HELP)


def _gate_check_values(args: argparse.Namespace, values: dict[str, Any]) -> None:
    """The what-if policy (``--policy``, else ``ASSAY_POLICY``) and whether to return the evidence."""
    import os

    values["policy"] = args.policy or os.environ.get("ASSAY_POLICY") or None
    values["save_evidence"] = args.evidence_out is not None


def gate_check_cmd(args: argparse.Namespace) -> int:
    """Check a gate; ``--save-evidence`` writes the evidence document the gate judged."""
    import json

    from assay.services import execute

    values = dict(vars(args))
    _gate_check_values(args, values)
    result = execute("gate.check", values)
    doc = dict(result.doc)
    evidence = doc.pop("evidence", None)
    if args.evidence_out is not None:
        args.evidence_out.write_text(json.dumps(evidence, indent=2, default=str) + "\n")
    emit(args.fmt, doc, result.text)
    return result.exit_code


def _listing_cmd(name: str) -> Any:
    return operation_command(name)


release_create_cmd = operation_command("release.create")
release_revoke_cmd = operation_command("release.revoke")
release_show_cmd = operation_command("release.show")
approve_cmd = operation_command("approve")
waive_cmd = operation_command("waive")
promote_cmd = operation_command("promote")
rollback_cmd = operation_command("rollback")
canary_abort_cmd = operation_command("canary.abort")
status_cmd = operation_command("status")
history_cmd = operation_command("history")
policy_set_cmd = operation_command("policy.set", lambda args, values: values.update(env=args.env or None))


def policy_test_cmd(args: argparse.Namespace) -> int:
    """Test a policy."""
    import json

    from assay.release import evidence_documents, judge, load_policy, render_text

    policy_file: Path = args.policy_file
    input_file: Path = args.input_file
    policy = load_policy(policy_file)
    from assay._files import read_bounded

    raw = read_bounded(input_file, MAX_EVIDENCE_BYTES, "max_evidence_bytes", "evidence document")
    try:
        evidence = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{input_file}: not valid JSON ({exc})") from None
    docs = evidence_documents(evidence)  # one document, or one per model version of a release
    doc = docs[0] if isinstance(docs[0], dict) else {}
    deployment = doc.get("deployment")
    environment = args.env or str((deployment if isinstance(deployment, dict) else {}).get("environment")
                                  or "production")
    result = judge(policy, docs, environment=environment)
    emit(args.fmt, result.to_json(), f"{policy_file} on {input_file} ({environment}, {result.risk_tier} risk)\n"
         f"{render_text(result, verbose=True)}\n")
    return 0 if result.passed else 1


