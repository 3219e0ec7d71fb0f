"""``assay release create``, ``gate check``, ``approve``, ``waive``, ``promote``, ``rollback``, ``status``,
``history``, ``policy test`` and ``audit verify|proof|checkpoint|export``. Parses, calls the services, renders."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from assay.cli.registry import _ACTOR, _FMT, Fmt, _emit, _registry
from assay.errors import UsageError

_ENV = typer.Option(..., "--env", help="The environment (default order: dev, staging, production).")
_POLICY = typer.Option(None, "--policy", help="Policy file [default: $ASSAY_POLICY, else ASSAY_HOME/policy.yaml, "
                       "else the shipped default policy].")


def register(app: typer.Typer) -> None:
    """Add the release and audit commands to ``app``."""
    release = typer.Typer(help="Releases: a model version plus prompts, tool schemas and parameters, by digest.",
                          no_args_is_help=True)
    release.command("create", help="Create an immutable release.")(release_create_cmd)
    app.add_typer(release, name="release")
    gate = typer.Typer(help="Gates: judge a release for an environment.", no_args_is_help=True)
    gate.command("check", help="Evaluate the policy for RELEASE in ENV; changes nothing. Exit 0 pass, 1 fail.")(
        gate_check_cmd)
    app.add_typer(gate, name="gate")
    app.command("approve", help="Approve RELEASE for ENV as the current actor (not its submitter).")(approve_cmd)
    app.command("waive", help="Waive one rule for one release in one environment until a date.")(waive_cmd)
    app.command("promote", help="Make RELEASE active in ENV (or a canary) if the gate passes; exit 1 when it "
                "fails, and then nothing changes.")(promote_cmd)
    app.command("rollback", help="Switch ENV back to the previous known-good release after re-checking it; "
                "--dry-run is a fire drill that changes nothing.")(rollback_cmd)
    app.command("status", help="What runs where, since when, on what evidence.")(status_cmd)
    app.command("history", help="Every deployment, canary and rollback of ENV.")(history_cmd)
    policy = typer.Typer(help="Policies: test a policy file against a saved evidence document.", no_args_is_help=True)
    policy.command("test", help="Run POLICY_FILE against EVIDENCE.json. Exit 0 pass, 1 fail, 2 bad input.")(
        policy_test_cmd)
    app.add_typer(policy, name="policy")
    audit = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
    audit.command("verify", help="Recompute the log and check every signed checkpoint (or an exported bundle, "
                  "with no database). Exit 0 intact, 1 tampered, 2 could not verify.")(audit_verify_cmd)
    audit.command("proof", help="Print the inclusion proof of audit entry ENTRY.")(audit_proof_cmd)
    audit.command("checkpoint", help="Sign a checkpoint of the log's current head.")(audit_checkpoint_cmd)
    audit.command("export", help="Write an offline bundle: entries, checkpoints, proofs, evidence, public key.")(
        audit_export_cmd)
    app.add_typer(audit, name="audit")


def _policy(path: Path | None) -> Any:
    if path is None:
        return None
    from assay.release.policy import load_policy

    return load_policy(path)


def release_create_cmd(
    name: str = typer.Argument(..., help="Release name, e.g. support-bot-2026-11-21."),
    model: str = typer.Option(..., "--model", help="The model version, NAME@VERSION."),
    artifact: list[str] = typer.Option([], "--artifact", help="KIND:NAME@VERSION of a registered artifact; "
                                       "repeatable."),
    params: Path | None = typer.Option(None, "--params", help="Inference parameters file (stored by digest)."),
    note: str | None = typer.Option(None, "--note", help="Free text."),
    actor: str | None = _ACTOR,
    fmt: Fmt = _FMT,
) -> None:
    """Create a release."""
    from assay.release.service import create_release

    with _registry(actor) as reg:
        doc = create_release(reg, name, model, artifacts=tuple(artifact), params=params, note=note)
    parts = "".join(f"\n  {a['kind']:<14} {a['name']}  {a['digest']}" for a in doc["artifacts"])
    _emit(fmt, {"schema": "assay.release/1.0", **doc},
          f"created release {doc['release']}  {doc['digest']}\n  model          {doc['model']}  {doc['identity']}"
          + (f"\n  params         {doc['params']}" if doc["params"] else "") + parts + "\n")


def _gate_text(result: Any, header: str, verbose: bool = True) -> str:
    from assay.release.policy import render_text

    return f"{header}\n{render_text(result, verbose=verbose)}\n"


def gate_check_cmd(release: str = typer.Argument(...), env: str = _ENV, policy: Path | None = _POLICY,
                   evidence_out: Path | None = typer.Option(None, "--save-evidence", help="Also write the evidence "
                                                            "document (for `assay policy test`)."),
                   fmt: Fmt = _FMT) -> None:
    """Check a gate."""
    from assay.release.service import gate_check

    with _registry() as reg:
        result, evidence = gate_check(reg, release, env, policy=_policy(policy))
    if evidence_out is not None:
        evidence_out.write_text(json.dumps(evidence, indent=2, default=str) + "\n")
    _emit(fmt, result.to_json(), _gate_text(result, f"{release} -> {env}"))
    raise typer.Exit(0 if result.passed else 1)


def approve_cmd(release: str = typer.Argument(...), env: str = _ENV,
                comment: str | None = typer.Option(None, "--comment"),
                role: str | None = typer.Option(None, "--role", help="The approver's role, e.g. security."),
                actor: str | None = _ACTOR, fmt: Fmt = _FMT) -> None:
    """Approve."""
    from assay.release.service import approve

    with _registry(actor) as reg:
        doc = approve(reg, release, env, comment=comment, role=role)
    _emit(fmt, {"schema": "assay.approval/1.0", **doc}, f"{doc['approver']} approved {release} for {env}\n")


def _date(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--expires {text!r} is not a date (YYYY-MM-DD or an ISO 8601 time)") from None
    if len(text) == 10:  # a bare date is valid through that whole day (UTC)
        when = when.replace(tzinfo=UTC) + timedelta(days=1)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def waive_cmd(rule_id: str = typer.Argument(..., help="The policy rule id to waive."),
              release: str = typer.Option(..., "--release"), env: str = _ENV,
              reason: str = typer.Option(..., "--reason"),
              expires: str = typer.Option(..., "--expires", help="YYYY-MM-DD (through that day, UTC) or ISO time."),
              policy: Path | None = _POLICY, actor: str | None = _ACTOR, fmt: Fmt = _FMT) -> None:
    """Waive a rule."""
    from assay.release.service import waive

    with _registry(actor) as reg:
        doc = waive(reg, rule_id, release, env, reason=reason, expires=_date(expires), policy=_policy(policy))
    _emit(fmt, {"schema": "assay.waiver/1.0", **doc},
          f"{doc['approver']} waived {rule_id} for {release} in {env} until {doc['expires_at']}\n")


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


def promote_cmd(release: str = typer.Argument(...), env: str = _ENV,
                canary: int | None = typer.Option(None, "--canary", help="Deploy as a canary with this percent of "
                                                  "traffic (1-99)."),
                policy: Path | None = _POLICY, actor: str | None = _ACTOR, fmt: Fmt = _FMT) -> None:
    """Promote."""
    from assay.release.service import promote

    with _registry(actor) as reg:
        outcome = promote(reg, release, env, canary=canary, policy=_policy(policy))
    _emit(fmt, outcome.to_json(), _outcome_text(outcome))


def rollback_cmd(env: str = _ENV, to: str | None = typer.Option(None, "--to", help="Target release [default: the "
                                                                 "one the active release replaced]."),
                 dry_run: bool = typer.Option(False, "--dry-run", help="Run every check, change nothing."),
                 policy: Path | None = typer.Option(None, "--policy", help="Rollback policy [default: shipped]."),
                 actor: str | None = _ACTOR, fmt: Fmt = _FMT) -> None:
    """Roll back."""
    from assay.release.rollback import rollback

    with _registry(actor) as reg:
        outcome = rollback(reg, env, to=to, dry_run=dry_run, policy=_policy(policy))
    _emit(fmt, outcome.to_json(), _outcome_text(outcome))
    raise typer.Exit(0 if outcome.gate.passed else 1)


def _deployment_line(d: dict[str, Any]) -> str:
    return (f"{d['release']} ({d['model']}) since {d['since'][:19]} by {d['by']}, {d['action']}, "
            f"gate {'passed' if d['gate_passed'] else 'FAILED'}, evidence {d['evidence']}")


def status_cmd(env: str | None = typer.Option(None, "--env", help="Only this environment."), fmt: Fmt = _FMT) -> None:
    """Show status."""
    from assay.release.rollback import status

    with _registry() as reg:
        rows = status(reg, env)
    lines = []
    for r in rows:
        lines.append(f"{r['environment']:<12} " + (_deployment_line(r["active"]) if r["active"] else "nothing deployed"))
        if r["canary"]:
            lines.append(f"{'':<12} canary {r['canary']['traffic_percent']}%: {_deployment_line(r['canary'])}")
    _emit(fmt, {"schema": "assay.status/1.0", "environments": rows}, "\n".join(lines) + "\n")


def history_cmd(env: str = _ENV, fmt: Fmt = _FMT) -> None:
    """Show history."""
    from assay.release.rollback import history

    with _registry() as reg:
        rows = history(reg, env)
    text = "".join(f"{d['seq']:>4}  {d['since'][:19]}  {d['action']:<8} {d['release']} ({d['model']}) "
                   f"{d['traffic_percent']}%  by {d['by']}\n" for d in rows) or f"no deployments in {env}\n"
    _emit(fmt, {"schema": "assay.history/1.0", "environment": env, "deployments": rows}, text)


def policy_test_cmd(policy_file: Path = typer.Argument(...), input_file: Path = typer.Option(..., "--input"),
                    env: str | None = typer.Option(None, "--env", help="Environment [default: the evidence's "
                                                   "deployment.environment]."),
                    fmt: Fmt = _FMT) -> None:
    """Test a policy."""
    from assay.release.policy import evaluate, load_policy

    policy = load_policy(policy_file)
    try:
        evidence = json.loads(input_file.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {input_file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{input_file}: not valid JSON ({exc})") from None
    doc = evidence if isinstance(evidence, dict) else {}
    environment = env or str((doc.get("deployment") or {}).get("environment") or "production")
    tier = str((doc.get("model") or {}).get("risk_tier") or "high")
    result = evaluate(policy, evidence, environment=environment, risk_tier=tier)
    _emit(fmt, result.to_json(), _gate_text(result, f"{policy_file} on {input_file} ({environment}, {tier} risk)"))
    raise typer.Exit(0 if result.passed else 1)


def _audit_report(report: Any, fmt: Fmt, source: str) -> None:
    lines = [f"audit log {source}: {report.size} entries, root {report.root}, {report.checkpoints} signed "
             "checkpoint(s)"]
    lines += [f"  {p.kind:<16} {p.message}" for p in report.problems]
    lines += [f"  warning          {w}" for w in report.warnings]
    lines.append("INTACT" if report.ok else f"TAMPERED: {len(report.problems)} problem(s)")
    _emit(fmt, report.to_json(), "\n".join(lines) + "\n")
    raise typer.Exit(0 if report.ok else 1)


def audit_verify_cmd(bundle: Path | None = typer.Option(None, "--bundle", help="Verify an exported bundle, "
                                                        "with no database."),
                     public_key: Path | None = typer.Option(None, "--public-key", help="The log's public key (PEM), "
                                                            "obtained separately [default: the bundle's own]."),
                     fmt: Fmt = _FMT) -> None:
    """Verify the audit log."""
    if bundle is not None:
        from assay.audit.bundle import verify_bundle

        _audit_report(verify_bundle(bundle, public_key=public_key), fmt, str(bundle))
        return
    from assay.registry import auditlog

    with _registry() as reg:
        verifier = auditlog.log_verifier(reg.home, public_key)
        with reg.read() as session:
            report = auditlog.verify(session, verifier)
    _audit_report(report, fmt, "(database)")


def audit_proof_cmd(entry: int = typer.Argument(..., min=0), fmt: Fmt = _FMT) -> None:
    """Print an inclusion proof."""
    from assay.registry import auditlog

    with _registry() as reg, reg.read() as session:
        doc = auditlog.proof(session, entry)
    p = doc["proof"]
    text = (f"entry {entry} of {p['size']}: leaf {doc['leaf']}\n  root {doc['root']}\n"
            + "".join(f"  {h}\n" for h in p["hashes"]) + (doc["checkpoint"] or "(no checkpoint covers it yet)\n"))
    _emit(fmt, doc, text)


def audit_checkpoint_cmd(actor: str | None = _ACTOR, fmt: Fmt = _FMT) -> None:
    """Sign a checkpoint."""
    from assay.registry import auditlog

    with _registry(actor) as reg, reg.write() as session:
        row = auditlog.checkpoint(session, reg.home, reg.actor)
        doc = {"schema": "assay.checkpoint/1.0", "size": row.size, "root": row.root, "note": row.note}
    _emit(fmt, doc, row.note)


def audit_export_cmd(output: Path = typer.Option(..., "--output", "-o", help="The bundle to write (.zip)."),
                     actor: str | None = _ACTOR) -> None:
    """Export the audit bundle."""
    from assay.registry import auditlog

    with _registry(actor) as reg:
        with reg.write() as session:
            auditlog.checkpoint(session, reg.home, reg.actor)
        with reg.read() as session:
            counts = auditlog.export(session, reg.blobs, reg.home, output)
    sys.stdout.write(f"wrote {output}: {counts['entries']} entries, {counts['checkpoints']} checkpoints, "
                     f"{counts['evidence']} evidence blobs\n")
