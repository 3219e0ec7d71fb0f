"""Release operations: create, revoke, show, approvals, waivers, gate check, approve, waive, promote, rollback,
canary abort, status, history, policy set. Each renders its own text from the document it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.services._table import operation
from assay.services.interface import Context, Result, Right

_VIEW, _SUBMIT, _APPROVE, _DEPLOY, _ADMIN = (Right("viewer"), Right("submitter"), Right("approver", "env"),
                                             Right("deployer", "env"), Right("admin"))


@dataclass(frozen=True)
class ReleaseCreate:
    """``assay release create``."""

    name: str
    model: list[str]
    artifact: list[str] | None = None
    params: str | None = None
    note: str | None = None


@operation("release.create", "Create an immutable release.", ReleaseCreate, _SUBMIT, uploads=("params",),
           writes=True)
def release_create(ctx: Context, p: ReleaseCreate) -> Result:
    """Create a release."""
    from assay.release import create_release

    doc = create_release(ctx.registry(), p.name, tuple(p.model), artifacts=tuple(p.artifact or ()),
                         params=ctx.path(p.params), note=p.note)
    parts = "".join(f"\n  {a['kind']:<14} {a['name']}  {a['digest']}" for a in doc["artifacts"])
    models = "".join(f"\n  {m['role'] or 'model':<14} {m['model']}  {m['identity']}" for m in doc["models"])
    return Result({"schema": "assay.release/1.0", **doc}, f"created release {doc['release']}  {doc['digest']}{models}"
                  + (f"\n  params         {doc['params']}" if doc["params"] else "") + parts + "\n")


@dataclass(frozen=True)
class ReleaseRevoke:
    """``assay release revoke``."""

    name: str
    reason: str


@operation("release.revoke", "Withdraw a release for good.", ReleaseRevoke, Right("approver"), writes=True)
def release_revoke(ctx: Context, p: ReleaseRevoke) -> Result:
    """Revoke a release."""
    from assay.release import revoke_release

    doc = revoke_release(ctx.registry(), p.name, reason=p.reason)
    live = "".join(f"\n  still {d['state']} in {d['environment']} (#{d['seq']}): roll it back there"
                   for d in doc["still_active"])
    return Result({"schema": "assay.release-revoked/1.0", **doc}, f"revoked {doc['release']}: {doc['reason']}{live}\n")


@dataclass(frozen=True)
class GateCheck:
    """``assay gate check``: ``policy`` is a what-if policy file; ``save_evidence`` adds the evidence document."""

    release: str
    env: str
    policy: str | None = None
    save_evidence: bool = False


def gate_text(result: Any, header: str, verbose: bool = True) -> str:
    """A gate decision (a GateResult or its JSON) under ``header``."""
    from assay.release import render_text

    return f"{header}\n{render_text(result, verbose=verbose)}\n"


@operation("gate.check", "Evaluate the policy for a release in an environment; changes nothing.", GateCheck, _VIEW,
           uploads=("policy",))
def gate_check(ctx: Context, p: GateCheck) -> Result:
    """Check a gate."""
    from assay.release import gate_check as check
    from assay.release import load_policy

    path = ctx.path(p.policy)
    source = None if p.policy is None else ctx.shown(p.policy)
    result, evidence = check(ctx.registry(), p.release, p.env, policy=None if path is None else load_policy(path))
    note = "" if source is None else (f"WHAT-IF: judged under {source}, not the policy registered for {p.env}; "
                                      "promote uses the registered one\n")
    doc = {**result.to_json(), "what_if_policy": source}
    if p.save_evidence:
        import json

        doc["evidence"] = json.loads(json.dumps(evidence, default=str))
    return Result(doc, note + gate_text(result, f"{p.release} -> {p.env}"), 0 if result.passed else 1)


@dataclass(frozen=True)
class Approve:
    """``assay approve``."""

    release: str
    env: str
    comment: str | None = None
    role: str | None = None


@operation("approve", "Approve a release for an environment (not its submitter).", Approve, _APPROVE, writes=True)
def approve(ctx: Context, p: Approve) -> Result:
    """Approve."""
    from assay.release import approve as record

    doc = record(ctx.registry(), p.release, p.env, comment=p.comment, role=p.role)
    return Result({"schema": "assay.approval/1.0", **doc}, f"{doc['approver']} approved {p.release} for {p.env}\n")


@dataclass(frozen=True)
class Waive:
    """``assay waive``."""

    rule_id: str
    release: str
    env: str
    reason: str
    expires: datetime


@operation("waive", "Waive one rule for one release in one environment until a date.", Waive, _APPROVE, writes=True)
def waive(ctx: Context, p: Waive) -> Result:
    """Waive a rule."""
    from assay.release import waive as record

    doc = record(ctx.registry(), p.rule_id, p.release, p.env, reason=p.reason, expires=p.expires)
    pending = "" if doc["effective"] else " (counts once a second approver waives it too)"
    return Result({"schema": "assay.waiver/1.0", **doc}, f"{doc['approver']} waived {p.rule_id} for {p.release} in "
                  f"{p.env} until {doc['expires_at']}{pending}\n")


def _outcome(o: Any) -> Result:
    verb = {"promote": "promoted", "canary": "canary", "rollback": "rolled back"}[o.action]
    if o.dry_run:
        head = (f"DRY RUN: rollback of {o.environment} from {o.replaced} to {o.release} would "
                + ("succeed" if o.gate.passed else "be refused") + " (nothing was changed)")
    elif o.action == "canary":
        head = f"canary {o.release} in {o.environment} at {o.traffic_percent}% (active: {o.replaced or 'none'})"
    else:
        head = f"{verb} {o.environment}: {o.replaced or 'none'} -> {o.release}"
    text = gate_text(o.gate, head + (f"\n  evidence {o.evidence_digest}" if o.evidence_digest else ""), verbose=False)
    return Result(o.to_json(), text, 0 if o.gate.passed else 1)


@dataclass(frozen=True)
class Promote:
    """``assay promote``."""

    release: str
    env: str
    canary: int | None = None
    replaces: str | None = None


@operation("promote", "Make a release active in an environment (or a canary) if the gate passes.", Promote, _DEPLOY,
           writes=True)
def promote(ctx: Context, p: Promote) -> Result:
    """Promote."""
    from assay.release import promote as move

    return _outcome(move(ctx.registry(), p.release, p.env, canary=p.canary, replaces=p.replaces))


@dataclass(frozen=True)
class Rollback:
    """``assay rollback``."""

    env: str
    to: str | None = None
    dry_run: bool = False
    reason: str | None = None


@operation("rollback", "Switch an environment back to the previous known-good release.", Rollback, _DEPLOY,
           writes=True)
def rollback(ctx: Context, p: Rollback) -> Result:
    """Roll back."""
    from assay.release import rollback as back

    return _outcome(back(ctx.registry(), p.env, to=p.to, dry_run=p.dry_run, reason=p.reason))


@dataclass(frozen=True)
class CanaryAbort:
    """``assay canary abort``."""

    env: str
    reason: str


@operation("canary.abort", "Stop the canary in an environment.", CanaryAbort, _DEPLOY, writes=True)
def canary_abort(ctx: Context, p: CanaryAbort) -> Result:
    """Abort a canary."""
    from assay.release import abort_canary

    doc = abort_canary(ctx.registry(), p.env, reason=p.reason)
    return Result({"schema": "assay.canary-abort/1.0", **doc}, f"aborted canary {doc['aborted']} in "
                  f"{doc['environment']}: all traffic to {doc['release'] or 'nothing'}\n")


@dataclass(frozen=True)
class PolicySet:
    """``assay policy set``."""

    policy_file: str
    env: list[str] | None = None


@operation("policy.set", "Register a policy file as the gate policy of environments.", PolicySet, _ADMIN,
           uploads=("policy_file",), writes=True)
def policy_set(ctx: Context, p: PolicySet) -> Result:
    """Register a gate policy."""
    from assay.release import set_policy

    path = ctx.path(p.policy_file)
    assert path is not None
    doc = set_policy(ctx.registry(), path, tuple(p.env or ()))
    where = ", ".join(doc["environments"]) if doc["environments"] else "every environment"
    return Result({"schema": "assay.policy-set/1.0", **doc},
                  f"registered {ctx.shown(p.policy_file)} ({doc['digest']}) as the gate policy of {where}\n")
