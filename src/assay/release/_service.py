"""Releases and their way into environments: create, approve, waive, gate, promote, roll back, report.

Every change is one transaction that also appends its audit entry and signs a checkpoint. Promotion and
rollback read the environment, judge the evidence, and then commit only if the environment has not changed in
between (its ``deploy_seq`` is compared under a row lock): a promotion commits over exactly the state it was
judged on, or changes nothing. ``--replaces`` adds what it expects to replace (see ``promote``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay._files import read_bounded
from assay._text import same_name
from assay.errors import AssayError, UsageError
from assay.registry import (
    ApprovalRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    ModelRow,
    Registry,
    ReleaseArtifactRow,
    ReleaseModelRow,
    ReleaseRow,
    Row,
    WaiverRow,
    WriteConflict,
    check_name,
    find_artifact,
    find_release,
    find_version,
    must_get,
    now,
)
from assay.release._attest import attest, key_ring, statement_problem
from assay.release._evidence import (
    _aware,
    _risk_tier_changed_at,
    active_deployment,
    release_evidences,
    release_versions,
    require_intact,
)
from assay.release._governance import (
    check_policy_environments,
    environment_names,
    registered_policy,
    require_role,
)
from assay.release._judge import evidence_document, judge
from assay.release.policy import GateResult, Policy, Waiver

MAX_PARAMS_BYTES = 1 << 20
"""A ``--params`` file larger than this is refused (inference parameters are a few hundred bytes)."""
MAX_WAIVER_DAYS = 90
"""A waiver may not run longer than this (``max_days`` argument of ``waive``)."""


class GateFailed(AssayError):
    """The gate said no: nothing was changed (exit 1)."""

    http_status = 422

    exit_code = 1


class ConcurrentChange(AssayError):
    """The environment changed while this promotion or rollback was being judged; nothing was changed."""

    http_status = 409


@dataclass(frozen=True)
class Outcome:
    """What a promotion or rollback did (or, for a dry run, would do)."""

    action: str
    environment: str
    release: str | None
    replaced: str | None
    gate: GateResult
    traffic_percent: int = 100
    dry_run: bool = False
    evidence_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (schema ``assay.deployment/1.0``)."""
        return {"schema": "assay.deployment/1.0", "action": self.action, "environment": self.environment,
                "release": self.release, "replaced": self.replaced, "traffic_percent": self.traffic_percent,
                "dry_run": self.dry_run, "evidence": self.evidence_digest, "gate": self.gate.to_json()}


def environments(reg: Registry, session: Session) -> list[EnvironmentRow]:
    """The environments in the registered promotion order, created on first use. Existing rows are never changed
    here (``set_environments`` renumbers them, on the record): a judging session leaves every row it reads as
    its audit entry sealed it."""
    names = environment_names(reg, session)
    rows = {e.name: e for e in session.scalars(select(EnvironmentRow))}
    for position, name in enumerate(names):
        if name not in rows:
            row = EnvironmentRow(name=name, position=position, deploy_seq=0, created_by=reg.actor, created_at=now())
            session.add(row)
            rows[name] = row
    session.flush()
    return [rows[n] for n in names]


def _env(reg: Registry, session: Session, name: str) -> tuple[EnvironmentRow, list[EnvironmentRow]]:
    envs = environments(reg, session)
    for e in envs:
        if e.name == name:
            return e, envs
    raise UsageError(f"unknown environment {name!r}; environments: {', '.join(e.name for e in envs)} "
                     "(an admin registers them: assay environments set)")


def policy_in_force(reg: Registry, session: Session, env: str, what_if: Policy | None = None) -> Policy:
    """The policy registered for ``env``; ``what_if`` (``gate check --policy``) replaces it for a check that
    changes nothing. Either way a rule naming an environment that is not registered is refused."""
    chosen = what_if or registered_policy(reg, session, env)
    check_policy_environments(chosen, environment_names(reg, session))
    return chosen


MAX_RELEASE_MODELS = 16
"""A release holds at most this many model versions."""


def _model_specs(model_refs: str | tuple[str, ...], max_models: int) -> list[tuple[str | None, str]]:
    """(role, NAME@VERSION) of each ``[ROLE=]NAME@VERSION``."""
    specs = [model_refs] if isinstance(model_refs, str) else list(model_refs)
    if not specs:
        raise UsageError("a release needs at least one model version (--model NAME@VERSION)")
    if len(specs) > max_models:
        raise UsageError(f"a release holds at most {max_models} model versions (max_release_models)")
    out: list[tuple[str | None, str]] = []
    for spec in specs:
        role, sep, ref = spec.partition("=")
        out.append((check_name(role, "model role"), ref) if sep else (None, spec))
    return out


def create_release(reg: Registry, name: str, model_ref: str | tuple[str, ...], *, artifacts: tuple[str, ...] = (),
                   params: Path | None = None, note: str | None = None,
                   max_release_models: int = MAX_RELEASE_MODELS) -> dict[str, Any]:
    """Bind accepted model versions (``[ROLE=]NAME@VERSION``, one or several: an embedder and a generator move and
    roll back as one release) with artifacts (``[KIND:]NAME@VERSION``) and parameters, immutably."""
    check_name(name, "release name")
    specs = _model_specs(model_ref, max_release_models)
    params_bytes = None
    if params is not None:
        params_bytes = read_bounded(params, MAX_PARAMS_BYTES, "max_params_bytes", "parameters file")
    with reg.write() as session:
        if session.scalars(select(ReleaseRow.id).where(ReleaseRow.name == name)).first() is not None:
            raise UsageError(f"release {name!r} exists already: releases are immutable, create a new one")
        models: list[tuple[str | None, Row, Row]] = []
        for role, ref in specs:
            model, version = find_version(session, ref)
            if version.status != "accepted":
                raise UsageError(f"{model.name}@{version.number} was rejected at intake and cannot be released")
            if any(v.id == version.id for _, _, v in models):
                raise UsageError(f"{model.name}@{version.number} is named twice")
            models.append((role, model, version))
        parts = [find_artifact(session, spec) for spec in artifacts]
        params_digest = reg.blobs.put(params_bytes).digest if params_bytes is not None else None
        bound: dict[str, Any] = {"params": params_digest, "artifacts": sorted([a.kind, a.name, a.digest] for a in parts)}
        if len(models) == 1:  # the digest of a one-model release is what it always was
            bound["model"] = models[0][2].identity
        else:
            bound["models"] = [[role, v.identity] for role, _, v in models]
        digest = "sha256:" + hashlib.sha256(json.dumps(bound, sort_keys=True).encode()).hexdigest()
        row = ReleaseRow(name=name, version_id=models[0][2].id, params_digest=params_digest, digest=digest, note=note,
                         created_by=reg.actor, created_at=now())
        session.add(row)
        session.flush()
        session.add_all(ReleaseModelRow(release_id=row.id, version_id=v.id, role=role, position=i)
                        for i, (role, _, v) in enumerate(models))
        session.add_all(ReleaseArtifactRow(release_id=row.id, artifact_id=a.id) for a in parts)
        if params_bytes is not None and params is not None:
            reg.evidence_rows(session, "release", row.id, [("params", params.name, params_bytes, "application/json")])
        first = models[0]
        doc = {"release": name, "digest": digest, "model": f"{first[1].name}@{first[2].number}",
               "identity": first[2].identity,
               "models": [{"role": role, "model": f"{m.name}@{v.number}", "identity": v.identity}
                          for role, m, v in models],
               "params": params_digest,
               "artifacts": [{"kind": a.kind, "name": f"{a.name}@{a.number}", "digest": a.digest} for a in parts]}
        reg.log(session, "release-created", doc)
        return doc


def _release(session: Session, name: str) -> ReleaseRow:
    """The mapped row of the release ``name`` (resolved by ``find_release``), to judge or attach to."""
    return must_get(session, ReleaseRow, find_release(session, name).id)


def approve(reg: Registry, release: str, env: str, *, comment: str | None = None, role: str | None = None
            ) -> dict[str, Any]:
    """Record the actor's approval of ``release`` for ``env``; the release's submitter may not approve it."""
    with reg.write() as session:
        require_role(reg, session, reg.actor, "approver", "approve releases", env)
        rel = _release(session, release)
        environment, _ = _env(reg, session, env)
        require_intact(reg, session, [rel])
        if same_name(rel.created_by, reg.actor):
            raise UsageError(f"{reg.actor} submitted {release} and cannot approve it (four eyes: another person must)")
        earlier = session.scalars(select(ApprovalRow).where(ApprovalRow.release_id == rel.id,
                                                            ApprovalRow.environment == environment.name,
                                                            ApprovalRow.approver == reg.actor)).first()
        renewed = False
        if earlier is not None:  # one approval per person; one given before a risk-tier change is renewed
            changes = [_risk_tier_changed_at(reg, session, must_get(session, ModelRow, v.model_id))
                       for _, v, _ in release_versions(session, rel)]
            changed = max((c for c in changes if c is not None), default=None)
            if changed is None or _aware(earlier.created_at) > changed:
                raise UsageError(f"{reg.actor} has already approved {release} for {env}")
            earlier.role, earlier.comment, earlier.created_at, renewed = role, comment, now(), True
            row = earlier
        else:
            row = ApprovalRow(release_id=rel.id, environment=environment.name, approver=reg.actor, role=role,
                              comment=comment, created_at=now())
            session.add(row)
        row.statement = attest(reg, "approval", rel, {"environment": environment.name, "approver": reg.actor,
                                                      "role": role, "comment": comment, "at": row.created_at})
        doc = {"release": release, "environment": env, "approver": reg.actor, "role": role, "comment": comment,
               "statement": row.statement, **({"renewed": True} if renewed else {})}
        reg.log(session, "approval", {**doc, "blobs": [row.statement]})
        return doc


def waive(reg: Registry, rule_id: str, release: str, env: str, *, reason: str, expires: datetime,
          max_days: int = MAX_WAIVER_DAYS) -> dict[str, Any]:
    """An exception to one rule of the policy registered for ``env``, for one release, approved by the actor (who
    needs the approver role and is not the submitter), until ``expires``. A rule the policy marks
    ``waivable: false`` cannot be waived. In the last environment of the order (production) a waiver counts only
    once a second approver has waived the same rule for the same release."""
    if not reason.strip():
        raise UsageError("a waiver needs a reason")
    expires = _aware(expires)
    if expires <= datetime.now(UTC):
        raise UsageError(f"--expires {expires:%Y-%m-%d} is not in the future")
    if expires > datetime.now(UTC) + timedelta(days=max_days):
        raise UsageError(f"a waiver may last at most {max_days} days (max_waiver_days)")
    with reg.write() as session:
        require_role(reg, session, reg.actor, "approver", "waive rules", env)
        rel = _release(session, release)
        _, envs = _env(reg, session, env)
        require_intact(reg, session, [rel])
        policy = policy_in_force(reg, session, env)
        rule = next((r for r in policy.rules if r.id == rule_id), None)
        if rule is None:
            raise UsageError(f"no rule {rule_id!r} in the policy; rules: {', '.join(r.id for r in policy.rules)}")
        if not rule.waivable:
            raise UsageError(f"rule {rule_id!r} cannot be waived (the policy marks it waivable: false)")
        if same_name(rel.created_by, reg.actor):
            raise UsageError(f"{reg.actor} submitted {release} and cannot waive its rules")
        if any(same_name(w.approver, reg.actor) and w.rule_id == rule_id and not w.expired(datetime.now(UTC))
               for w in _waivers(reg, session, rel, env, envs, every=True)):
            raise UsageError(f"{reg.actor} has already waived {rule_id} for {release} in {env}")
        statement = attest(reg, "waiver", rel, {"rule": rule_id, "environment": env, "approver": reg.actor,
                                                "reason": reason, "expires_at": expires})
        session.add(WaiverRow(rule_id=rule_id, release_id=rel.id, environment=env, reason=reason,
                              approver=reg.actor, expires_at=expires, created_at=now(), statement=statement))
        session.flush()
        effective = any(w.rule_id == rule_id for w in _waivers(reg, session, rel, env, envs))
        doc = {"rule": rule_id, "release": release, "environment": env, "approver": reg.actor, "reason": reason,
               "expires_at": expires.isoformat(), "effective": effective, "statement": statement}
        reg.log(session, "waiver", {**doc, "blobs": [statement]})
        return doc


def _waivers(reg: Registry, session: Session, rel: ReleaseRow, env: str, envs: list[EnvironmentRow], *,
             every: bool = False) -> list[Waiver]:
    """The waivers that count for ``rel`` in ``env``: in the last environment of the order, a rule's waivers count
    only when two different approvers gave one that has not expired (``every``: all of them regardless). Each
    must be sealed by its audit entry (``require_intact``)."""
    rows = session.scalars(select(WaiverRow).where(WaiverRow.release_id == rel.id, WaiverRow.environment == env)).all()
    require_intact(reg, session, rows)
    ring = key_ring(reg, session) if rows else set()
    rows = [w for w in rows if statement_problem(reg, w.statement, "waiver", rel, {
        "rule": w.rule_id, "environment": w.environment, "approver": w.approver, "reason": w.reason,
        "expires_at": _aware(w.expires_at)}, ring) is None]  # only a waiver its signed statement proves counts
    found = [Waiver(w.rule_id, rel.name, w.environment, w.approver, w.reason, _aware(w.expires_at)) for w in rows]
    if every or not envs or env != envs[-1].name:
        return found
    live = datetime.now(UTC)
    approvers: dict[str, set[str]] = {}
    for w in found:
        if not w.expired(live):
            approvers.setdefault(w.rule_id, set()).add(w.approver)
    return [w for w in found if len(approvers.get(w.rule_id, ())) >= 2]


def gate_check(reg: Registry, release: str, env: str, *, policy: Policy | None = None
               ) -> tuple[GateResult, dict[str, Any]]:
    """Judge ``release`` for ``env`` now; changes nothing. Returns the result and the evidence document.
    ``policy``: a what-if run under that policy instead of the one registered for ``env``."""
    with reg.read() as session:
        policy = policy_in_force(reg, session, env, policy)
        rel = _release(session, release)
        environment, envs = _env(reg, session, env)
        docs = release_evidences(reg, session, rel, environment, envs)
        result = judge(policy, docs, environment=env, waivers=_waivers(reg, session, rel, env, envs))
        session.rollback()  # environments() may have created rows: a check writes nothing
    return result, evidence_document(docs)


def _commit_deployment(reg: Registry, env_name: str, seen_seq: int, release_id: int | None, action: str,
                       percent: int, result: GateResult, policy_digest: str, evidence: dict[str, Any],
                       relied_on: list[str], extra: dict[str, Any]) -> str:
    evidence_blob = reg.blobs.put(json.dumps(evidence, indent=1, sort_keys=True, default=str).encode()).digest
    try:
        with reg.write() as session:
            environments(reg, session)  # the judging session wrote nothing: create them on first use
            env = session.scalars(select(EnvironmentRow).where(EnvironmentRow.name == env_name)
                                  .with_for_update()).one()
            if env.deploy_seq != seen_seq:
                raise ConcurrentChange(f"{env_name} changed while this {action} was being judged (another deployment "
                                       "won the race); nothing was changed: run it again to judge the new state")
            active = active_deployment(session, env)
            _log_policy_change(reg, session, action, policy_digest)
            env.deploy_seq += 1
            row = DeploymentRow(environment_id=env.id, seq=env.deploy_seq, release_id=release_id, action=action,
                                traffic_percent=percent, replaces_id=active.id if active else None,
                                gate=result.to_json(), policy_digest=policy_digest,
                                evidence_digests=[evidence_blob, *relied_on],
                                created_by=reg.actor, created_at=now())
            session.add(row)
            session.flush()
            reg.log(session, action, {"environment": env_name, "seq": row.seq, "evidence": evidence_blob,
                                      "policy": policy_digest, "gate_passed": result.passed, **extra})
    except (IntegrityError, WriteConflict):
        raise ConcurrentChange(f"{env_name} changed while this {action} was being judged; nothing was changed") \
            from None
    return evidence_blob


def _log_policy_change(reg: Registry, session: Session, action: str, policy_digest: str) -> None:
    """Policies live in files the registry does not own: the first deployment decided by a policy other than the
    one the previous deployment of the same kind used logs the change (gate policy, or rollback policy)."""
    kinds = ("rollback",) if action == "rollback" else ("promote", "canary")
    last = session.scalar(select(DeploymentRow.policy_digest).where(DeploymentRow.action.in_(kinds))
                          .order_by(DeploymentRow.id.desc()).limit(1))
    if last != policy_digest:
        reg.log(session, "policy-changed", {"policy": "rollback" if action == "rollback" else "gate",
                                            "from": last, "to": policy_digest}, sign=False)


def relied_on_evidence(session: Session, rel: ReleaseRow) -> list[str]:
    """The digests of the evidence a deployment of ``rel`` relies on: its versions' and its own."""
    versions = [v.id for _, v, _ in release_versions(session, rel)]
    rows = session.scalars(select(EvidenceRow.digest).where(
        ((EvidenceRow.subject_kind == "version") & (EvidenceRow.subject_id.in_(versions)))
        | ((EvidenceRow.subject_kind == "release") & (EvidenceRow.subject_id == rel.id))).order_by(EvidenceRow.id))
    return list(dict.fromkeys(rows))


def promote(reg: Registry, release: str, env: str, *, canary: int | None = None, replaces: str | None = None
            ) -> Outcome:
    """Make ``release`` active in ``env`` (or a canary with ``canary`` percent of traffic) if the gate passes, under
    the policy registered for ``env`` (never one the caller chooses).

    Concurrent promotions of one environment are serialized: each is judged on the state it read and commits
    only over that same state, else ``ConcurrentChange`` (exit 2) and nothing changes. ``replaces`` (a release
    name, or ``none``) makes it conditional as well on what it replaces: when another release (or nothing, or
    something) is active, it fails the same way, so of several racing promotions that each state the same
    ``replaces``, exactly one wins."""
    if canary is not None and not 1 <= canary <= 99:
        raise UsageError("--canary must be a percentage from 1 to 99")
    with reg.read() as session:
        policy = policy_in_force(reg, session, env)
        rel = _release(session, release)
        environment, envs = _env(reg, session, env)
        seen_seq = environment.deploy_seq
        active = active_deployment(session, environment)
        if replaces is not None:
            _expect_active(session, env, active, replaces)
        if canary is None and active is not None and active.release_id == rel.id:
            raise UsageError(f"{release} is already active in {env}")
        docs = release_evidences(reg, session, rel, environment, envs)
        result = judge(policy, docs, environment=env, waivers=_waivers(reg, session, rel, env, envs))
        evidence = evidence_document(docs)
        replaced = docs[0]["deployment"]["previous_release"]
        relied_on = relied_on_evidence(session, rel)
        release_id = rel.id
        session.rollback()  # environments() may have created rows: judging writes nothing
    action = "canary" if canary is not None else "promote"
    if not result.passed:
        with reg.write() as session:  # the refusal is on record too; the environment is untouched
            reg.log(session, f"{action}-refused", {"release": release, "environment": env,
                                                   "policy": policy.digest,
                                                   "failed": [r.id for r in result.failures]})
        raise GateFailed(f"gate refused {release} for {env}: " + "; ".join(
            f"{r.id}: {r.message}" for r in result.failures if r.blocking))
    blob = _commit_deployment(reg, env, seen_seq, release_id, action, canary or 100, result, policy.digest, evidence,
                              relied_on, {"release": release, "replaces": replaced, "traffic_percent": canary or 100})
    return Outcome(action, env, release, replaced, result, canary or 100, evidence_digest=blob)


def _expect_active(session: Session, env: str, active: DeploymentRow | None, expected: str) -> None:
    """Refuse (``ConcurrentChange``) unless the release active in ``env`` is ``expected`` (``none``: nothing)."""
    current = "none"
    if active is not None and active.release_id is not None:
        current = must_get(session, ReleaseRow, active.release_id).name
    if current != expected:
        raise ConcurrentChange(f"{env} runs {current}, not {expected} as --replaces says (another deployment came "
                               "first?); nothing was changed")
