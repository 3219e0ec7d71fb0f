"""``assay release create``, ``gate check``, ``approve``, ``waive``, ``promote``, ``rollback``, ``status``,
``history`` and ``policy test``. Parses, calls the services, renders. ``assay audit`` is in ``audit.py``."""

from __future__ import annotations

from assay.cli._parsing import Arguments, add_actor, add_format, command, group, moment, path
from assay.cli._running import emit, open_registry
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


def _what_if(path: Path | None) -> tuple[Any, str | None]:
    """The policy of a what-if gate check (``--policy``, else ``ASSAY_POLICY``) and where it came from."""
    import os

    source = str(path) if path is not None else os.environ.get("ASSAY_POLICY") or None
    if source is None:
        return None, None
    from assay.release import load_policy

    return load_policy(source), source


def release_create_cmd(args: argparse.Namespace) -> int:
    """Create a release."""
    from assay.release import create_release

    with open_registry(args.actor) as reg:
        doc = create_release(reg, args.name, tuple(args.model), artifacts=tuple(args.artifact), params=args.params,
                             note=args.note)
    parts = "".join(f"\n  {a['kind']:<14} {a['name']}  {a['digest']}" for a in doc["artifacts"])
    models = "".join(f"\n  {m['role'] or 'model':<14} {m['model']}  {m['identity']}" for m in doc["models"])
    emit(args.fmt, {"schema": "assay.release/1.0", **doc}, f"created release {doc['release']}  {doc['digest']}{models}"
         + (f"\n  params         {doc['params']}" if doc["params"] else "") + parts + "\n")
    return 0


def release_revoke_cmd(args: argparse.Namespace) -> int:
    """Revoke a release."""
    from assay.release import revoke_release

    with open_registry(args.actor) as reg:
        doc = revoke_release(reg, args.name, reason=args.reason)
    live = "".join(f"\n  still {d['state']} in {d['environment']} (#{d['seq']}): roll it back there"
                   for d in doc["still_active"])
    emit(args.fmt, {"schema": "assay.release-revoked/1.0", **doc}, f"revoked {doc['release']}: {doc['reason']}{live}\n")
    return 0


def _gate_text(result: Any, header: str, verbose: bool = True) -> str:
    from assay.release import render_text

    return f"{header}\n{render_text(result, verbose=verbose)}\n"


def gate_check_cmd(args: argparse.Namespace) -> int:
    """Check a gate."""
    import json

    from assay.release import gate_check

    policy, source = _what_if(args.policy)
    with open_registry() as reg:
        result, evidence = gate_check(reg, args.release, args.env, policy=policy)
    if args.evidence_out is not None:
        args.evidence_out.write_text(json.dumps(evidence, indent=2, default=str) + "\n")
    note = "" if source is None else (f"WHAT-IF: judged under {source}, not the policy registered for {args.env}; "
                                      "promote uses the registered one\n")
    emit(args.fmt, {**result.to_json(), "what_if_policy": source}, note + _gate_text(result, f"{args.release} -> {args.env}"))
    return 0 if result.passed else 1


def approve_cmd(args: argparse.Namespace) -> int:
    """Approve."""
    from assay.release import approve

    with open_registry(args.actor) as reg:
        doc = approve(reg, args.release, args.env, comment=args.comment, role=args.role)
    emit(args.fmt, {"schema": "assay.approval/1.0", **doc},
         f"{doc['approver']} approved {args.release} for {args.env}\n")
    return 0


def waive_cmd(args: argparse.Namespace) -> int:
    """Waive a rule."""
    from assay.release import waive

    with open_registry(args.actor) as reg:
        doc = waive(reg, args.rule_id, args.release, args.env, reason=args.reason, expires=args.expires)
    pending = "" if doc["effective"] else " (counts once a second approver waives it too)"
    emit(args.fmt, {"schema": "assay.waiver/1.0", **doc},
         f"{doc['approver']} waived {args.rule_id} for {args.release} in {args.env} until {doc['expires_at']}"
         f"{pending}\n")
    return 0


def _outcome_text(o: Any) -> str:
    verb = {"promote": "promoted", "canary": "canary", "rollback": "rolled back"}[o.action]
    if o.dry_run:
        head = (f"DRY RUN: rollback of {o.environment} from {o.replaced} to {o.release} would "
                + ("succeed" if o.gate.passed else "be refused") + " (nothing was changed)")
    elif o.action == "canary":
        head = f"canary {o.release} in {o.environment} at {o.traffic_percent}% (active: {o.replaced or 'none'})"
    else:
        head = f"{verb} {o.environment}: {o.replaced or 'none'} -> {o.release}"
    return _gate_text(o.gate, head + (f"\n  evidence {o.evidence_digest}" if o.evidence_digest else ""), verbose=False)


def promote_cmd(args: argparse.Namespace) -> int:
    """Promote."""
    from assay.release import promote

    with open_registry(args.actor) as reg:
        outcome = promote(reg, args.release, args.env, canary=args.canary, replaces=args.replaces)
    emit(args.fmt, outcome.to_json(), _outcome_text(outcome))
    return 0


def rollback_cmd(args: argparse.Namespace) -> int:
    """Roll back."""
    from assay.release import rollback

    with open_registry(args.actor) as reg:
        outcome = rollback(reg, args.env, to=args.to, dry_run=args.dry_run, reason=args.reason)
    emit(args.fmt, outcome.to_json(), _outcome_text(outcome))
    return 0 if outcome.gate.passed else 1


def _deployment_line(d: dict[str, Any]) -> str:
    return (f"{d['release']} ({d['model']}){' REVOKED' if d['revoked'] else ''} since {d['since'][:19]} by "
            f"{d['by']}, {d['action']}, gate {'passed' if d['gate_passed'] else 'FAILED'}, evidence {d['evidence']}")


def status_cmd(args: argparse.Namespace) -> int:
    """Show status."""
    from assay.release import status

    with open_registry() as reg:
        rows = status(reg, args.env, at=args.at)
    lines = []
    for r in rows:
        lines.append(f"{r['environment']:<12} " + (_deployment_line(r["active"]) if r["active"] else "nothing deployed"))
        if r["canary"]:
            lines.append(f"{'':<12} canary {r['canary']['traffic_percent']}%: {_deployment_line(r['canary'])}")
    at = None if args.at is None else args.at.isoformat()
    emit(args.fmt, {"schema": "assay.status/1.0", "at": at, "environments": rows},
         (f"as at {at}\n" if at else "") + "\n".join(lines) + "\n")
    return 0


def history_cmd(args: argparse.Namespace) -> int:
    """Show history."""
    from assay.release import history

    with open_registry() as reg:
        rows = history(reg, args.env)
    text = "".join(f"{d['seq']:>4}  {d['since'][:19]}  {d['action']:<8} {d['release']} ({d['model']}) "
                   f"{d['traffic_percent']}%  by {d['by']}\n" for d in rows) or f"no deployments in {args.env}\n"
    emit(args.fmt, {"schema": "assay.history/1.0", "environment": args.env, "deployments": rows}, text)
    return 0


def policy_set_cmd(args: argparse.Namespace) -> int:
    """Register a gate policy."""
    from assay.release import set_policy

    with open_registry(args.actor) as reg:
        doc = set_policy(reg, args.policy_file, tuple(args.env))
    where = ", ".join(doc["environments"]) if doc["environments"] else "every environment"
    emit(args.fmt, {"schema": "assay.policy-set/1.0", **doc},
         f"registered {args.policy_file} ({doc['digest']}) as the gate policy of {where}\n")
    return 0


def policy_test_cmd(args: argparse.Namespace) -> int:
    """Test a policy."""
    import json

    from assay.release import evidence_documents, judge, load_policy

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
    emit(args.fmt, result.to_json(), _gate_text(result, f"{policy_file} on {input_file} ({environment}, "
                                                         f"{result.risk_tier} risk)"))
    return 0 if result.passed else 1


def release_show_cmd(args: argparse.Namespace) -> int:
    """Show a release."""
    from assay.release import release_report

    with open_registry() as reg:
        doc = release_report(reg, args.name)
    emit(args.fmt, {"schema": "assay.release-show/1.0", **doc}, _release_text(doc))
    return 0


def _release_text(d: dict[str, Any]) -> str:
    revoked = d["revoked"]
    lines = [f"{d['release']}  {d['digest']}" + (f"  REVOKED: {revoked['reason']}" if revoked else ""),
             f"  created         {d['created_at'][:19]} by {d['created_by']}" + (f"; note: {d['note']}" if d["note"]
                                                                                  else "")]
    lines += [f"  {m['role'] or 'model':<15} {m['model']}  {m['identity']}  scan {m['scan']}, signature {m['signature']}, "
              f"license {m['license'] or '-'} [{m['license_class']}], owner {m['owner'] or '-'}, risk "
              f"{m['risk_tier'] or '-'}" for m in d["models"]]
    lines += [f"  params          {d['params']}"] if d["params"] else []
    lines += [f"  {a['kind']:<15} {a['name']}  {a['digest']}" for a in d["artifacts"]]
    lines.append("  running in      " + (", ".join(f"{e} ({r})" for e, r in d["active_in"].items()) or "nowhere"))
    lines.append("  approvals")
    lines += [f"    {a['environment']:<12} {a['approver']}" + (f" ({a['role']})" if a["role"] else "")
              + f"  {a['at'][:19]}" + (f"  {a['comment']}" if a["comment"] else "") for a in d["approvals"]] or \
        ["    none"]
    lines.append("  waivers")
    lines += [f"    {w['environment']:<12} {w['rule']} by {w['approver']} until {w['expires_at'][:19]}"
              + (" (expired)" if w["expired"] else "") + f": {w['reason']}" for w in d["waivers"]] or ["    none"]
    lines.append("  gates")
    lines += [f"    {g['environment']:<12} #{g['seq']} {g['action']:<8} {g['at'][:19]} by {g['by']}: "
              + ("passed" if g["gate_passed"] else "FAILED") + (f" (not passed: {', '.join(g['not_passed'])})"
                                                                  if g["not_passed"] else "")
              for g in d["deployments"]]
    lines += [f"    {r['environment'] or '-':<12} {r['kind']:<16} {r['at'][:19]} by {r['by']}: refused "
              f"({', '.join(r['failed'])})" for r in d["refusals"]]
    if not d["deployments"] and not d["refusals"]:
        lines.append("    never judged for a deployment")
    return "\n".join(lines) + "\n"


def _listing_cmd(name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from assay import release

        with open_registry() as reg:
            rows = getattr(release, name)(reg, release=args.release, env=args.env)
        if name == "approvals":
            text = "".join(f"{a['at'][:19]}  {a['release']}  {a['environment']}  {a['approver']}"
                           + (f" ({a['role']})" if a["role"] else "") + (f"  {a['comment']}" if a["comment"] else "")
                           + "\n" for a in rows)
        else:
            text = "".join(f"{w['at'][:19]}  {w['release']}  {w['environment']}  {w['rule']}  by {w['approver']} "
                           f"until {w['expires_at'][:19]}" + (" (expired)" if w["expired"] else "")
                           + f"  {w['reason']}\n" for w in rows)
        emit(args.fmt, {"schema": f"assay.{name}/1.0", name: rows}, text or f"no {name}\n")
        return 0

    return run


def canary_abort_cmd(args: argparse.Namespace) -> int:
    """Abort a canary."""
    from assay.release import abort_canary

    with open_registry(args.actor) as reg:
        doc = abort_canary(reg, args.env, reason=args.reason)
    emit(args.fmt, {"schema": "assay.canary-abort/1.0", **doc},
         f"aborted canary {doc['aborted']} in {doc['environment']}: all traffic to {doc['release'] or 'nothing'}\n")
    return 0
