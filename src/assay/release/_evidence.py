"""The evidence document a gate judges (schema in ``assay.release.policy.schema``), built from the registry."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.errors import InputError
from assay.registry import (
    ApprovalRow,
    ArtifactRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    LineageRow,
    ModelRow,
    RecordTampered,
    Registry,
    ReleaseArtifactRow,
    ReleaseModelRow,
    ReleaseRow,
    VersionRow,
    later_evidence_entries,
    must_get,
    read_eval_set,
)
from assay.release._attest import key_ring, statement_problem
from assay.release._revocation import revoked_releases

DEPLOYMENT_KINDS = ("promote", "canary", "rollback", "canary-abort")
"""The audit entries that change what an environment runs."""
UNSET_RISK_TIER = "high"
"""A model registered without a risk tier is judged as high risk: the gate fails closed."""
_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def require_intact(reg: Registry, session: Session, rows: Iterable[Any],
                   environments: Iterable[EnvironmentRow] = (), consult: Iterable[int] = ()) -> None:
    """RecordTampered unless every row a decision rests on is sealed by a signed audit entry as it is now (and
    every row those entries, and ``consult``, wrote still exists), and the deployment history of each of
    ``environments`` is whole (``seq`` 1..``deploy_seq``, the counter sealed with the environment), so a deployment
    deleted outside assay cannot bring an older release back."""
    rows = list(rows)
    envs = list(environments)
    problems = reg.unsealed(session, [*rows, *envs], consult)
    for env in envs:
        problems += _deployment_gaps(reg, session, env)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise RecordTampered("the registry rows this decision rests on were changed outside assay: "
                             + "; ".join(problems[:3]) + more + "; nothing was decided (run assay audit verify)")


def _deployment_gaps(reg: Registry, session: Session, env: EnvironmentRow) -> list[str]:
    """Deployments of ``env`` missing outside assay: rows numbered other than 1..``deploy_seq``, or fewer than the
    deployment entries the newest signed checkpoint counts for ``env`` (the newest row deleted and the counter
    put back with it, or a deployment entry hidden)."""
    count, top = session.execute(select(func.count(DeploymentRow.id), func.max(DeploymentRow.seq))
                                 .where(DeploymentRow.environment_id == env.id)).one()
    if count != env.deploy_seq or (top or 0) != env.deploy_seq:
        return [f"the deployments of {env.name} were changed outside assay ({count} rows, numbered up to {top or 0}, "
                f"where {env.deploy_seq} were made)"]
    counts = reg.signed_counts(session)
    signed = None if counts is None else sum(counts.get(f"{kind}@{env.name}", 0) for kind in DEPLOYMENT_KINDS)
    if signed is not None and signed != count:
        return [f"the log signs {signed} deployments to {env.name}, the registry holds {count}: deployments were "
                "deleted or inserted outside assay"]
    return []


def active_deployment(session: Session, env: EnvironmentRow) -> DeploymentRow | None:
    """The deployment that made the current release active in ``env`` (canaries do not count)."""
    return session.scalars(select(DeploymentRow).where(DeploymentRow.environment_id == env.id,
                                                       DeploymentRow.action != "canary")
                           .order_by(DeploymentRow.seq.desc()).limit(1)).first()


def trusted_keys(reg: Registry, session: Session) -> set[bytes]:
    """The public keys and CA files the team trusts: those on the record (``assay trust add``) and every ``*.pem``
    under ``ASSAY_HOME/trust/`` (the host's own)."""
    from assay.release._trust import registered_trust

    folder = reg.home / "trust"
    local = {p.read_bytes().strip() for p in folder.glob("*.pem") if p.is_file()} if folder.is_dir() else set()
    return local | set(registered_trust(reg, session).values())


def _scan_summary(raw: bytes) -> tuple[list[str], dict[str, int], str]:
    """(rules, counts by severity, verdict) of a stored scan report; InputError when it is not one."""
    try:
        report = json.loads(raw)
        files = report.get("files", [])
        summary = report.get("summary", {})
        rules = sorted({str(f["rule"]) for file in files for f in file.get("findings", [])})
        counts = {s: int(summary.get("findings", {}).get(s, 0)) for s in _SEVERITIES}
        errors = summary.get("errors", 0) or any(f.get("errors") for f in files)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise InputError(f"the stored scan report is not one ({type(exc).__name__})") from None
    return rules, counts, "error" if errors else ("findings" if any(counts.values()) else "clean")


def version_evidence(reg: Registry, session: Session, version: VersionRow, read: list[Any], consult: list[int]
                     ) -> dict[str, Any]:
    """The release-independent parts: model, scan, signature, license, card, lineage, evidence age. The rows
    it reads are added to ``read``, the entries that added evidence later to ``consult`` (``require_intact``)."""
    model = must_get(session, ModelRow, version.model_id)
    evidence = session.scalars(select(EvidenceRow).where(EvidenceRow.subject_kind == "version",
                                                         EvidenceRow.subject_id == version.id)).all()
    by_kind = {e.kind: e for e in sorted(evidence, key=lambda e: e.id)}  # the newest of each kind wins
    rules: list[str] = []
    counts = {s: int(version.scan_counts.get(s, 0)) for s in _SEVERITIES}
    verdict = version.scan_verdict
    scanned_at = version.created_at
    latest_scan = by_kind.get("scan-report")
    if latest_scan is not None:  # a re-intake's rescan supersedes the first one
        try:
            rules, counts, verdict = _scan_summary(reg.blobs.get_verified(latest_scan.digest))
            scanned_at = latest_scan.created_at
        except InputError:  # the report the decision would rest on is missing, altered or unreadable: fail closed
            rules, verdict = [], "error"
    trusted = trusted_keys(reg, session)
    key = by_kind.get("verification-key") or by_kind.get("verification-certs")
    key_trusted = False
    if key is not None:
        try:  # re-hashed: a key blob swapped on disk for a trusted key would otherwise vouch for another signer
            key_trusted = reg.blobs.get_verified(key.digest).strip() in trusted
        except InputError:
            key_trusted = False
    status = version.signature_status if version.signature_status in ("verified", "failed") else "unsigned"
    edges = session.scalars(select(LineageRow).where(LineageRow.child_version_id == version.id)).all()
    read += [version, model, *evidence, *edges]
    consult += later_evidence_entries(reg, session, version.identity)
    card = version.card or {}
    return {
        "model": {"name": model.name, "version": str(version.number), "identity": version.identity,
                  "owner": model.owner, "risk_tier": model.risk_tier or UNSET_RISK_TIER,
                  "intended_use": model.intended_use, "data_sensitivity": model.data_sensitivity},
        "scan": {"verdict": verdict,
                 "max_severity": next((s for s in _SEVERITIES if counts[s]), None), "counts": counts, "rules": rules},
        "signature": {"status": status, "signer": version.signer,
                      "method": "certificate" if key is not None and key.kind == "verification-certs" else
                      ("key" if key is not None else None), "trusted": bool(status == "verified" and key_trusted)},
        "license": {"expression": version.license_expression, "class": version.license_class,
                    "obligations": list(version.license_obligations)},
        "card": {"present": bool(card.get("present")), "license": card.get("license"),
                 "pipeline_tag": card.get("pipeline_tag"),
                 "base_models": [b["name"] for b in card.get("base_models", [])],
                 "datasets": list(card.get("datasets", []))},
        "lineage": {"complete": bool(edges) and all(e.parent_version_id or e.parent_dataset_id for e in edges),
                    "base_models": [e.parent_name for e in edges if e.parent_kind == "model"],
                    "datasets": [e.parent_name for e in edges if e.parent_kind == "dataset"],
                    "missing": [e.parent_name for e in edges if not (e.parent_version_id or e.parent_dataset_id)]
                    or ([] if edges else ["no base model or dataset recorded"])},
        "evidence_age_days": round((datetime.now(UTC) - _aware(scanned_at)).total_seconds() / 86400, 3),
    }


def _evals(reg: Registry, artifacts: list[ArtifactRow]) -> list[dict[str, Any]]:
    """Eval results carried by eval-set artifacts (``registry.read_eval_set``). One that is missing, altered or
    malformed counts as a failed evaluation named after it: a gate input fails closed."""
    out = []
    for art in artifacts:
        if art.kind != "eval-set":
            continue
        try:
            out += read_eval_set(reg.blobs.get_verified(art.digest))
        except InputError as exc:
            out.append({"name": f"{art.name}@{art.number}", "metric": "unreadable eval-set", "value": None,
                        "threshold": None, "passed": False, "problem": str(exc)})
    return out


def _model_changes(reg: Registry, session: Session, model: ModelRow) -> list[dict[str, Any]]:
    """The ``model-changed`` entries of ``model``, oldest first. The newest must be the one that sealed the model
    row: a row put back to an older, once-logged state (a lower risk tier) is stale, and RecordTampered."""
    changes = [e for e in reg.entries(session, "model-changed") if (e.get("payload") or {}).get("model") == model.name]
    if changes and model.entry_idx is not None and changes[-1]["index"] > model.entry_idx:
        raise RecordTampered(f"{model.__tablename__}/{model.id} ({model.name}) was put back to an older state outside "
                             f"assay: log entry {changes[-1]['index']} changed it since; nothing was decided "
                             "(run assay audit verify)")
    return changes


def _risk_tier_changed_at(reg: Registry, session: Session, model: ModelRow) -> datetime | None:
    """When the model's risk tier last changed (``set_model_metadata``'s ``model-changed`` entry), or None."""
    for entry in reversed(_model_changes(reg, session, model)):
        if "risk_tier" in (entry["payload"].get("changes") or {}):
            return _aware(datetime.fromisoformat(entry["time"]))
    return None


def release_versions(session: Session, release: ReleaseRow) -> list[tuple[str | None, VersionRow, Any]]:
    """(role, version, its ``release_models`` row) of every model version of ``release``, in order; a release made
    before releases held several models has one, ``releases.version_id``, and no row."""
    rows = list(session.scalars(select(ReleaseModelRow).where(ReleaseModelRow.release_id == release.id)
                                .order_by(ReleaseModelRow.position)))
    if not rows:
        return [(None, must_get(session, VersionRow, release.version_id), None)]
    return [(r.role, must_get(session, VersionRow, r.version_id), r) for r in rows]


def release_evidences(reg: Registry, session: Session, release: ReleaseRow, env: EnvironmentRow,
                      envs: list[EnvironmentRow]) -> list[dict[str, Any]]:
    """One evidence document per model version of ``release`` (each judged by the whole policy: a release passes
    only if every one of its models does)."""
    parts = release_versions(session, release)
    names = [_version_ref(session, v) for _, v, _ in parts]
    docs = []
    for role, version, row in parts:
        doc = release_evidence(reg, session, release, env, envs, version=version, extra=[row] if row else [])
        doc["release"]["models"] = names
        doc["release"]["model_role"] = role
        docs.append(doc)
    return docs


def _version_ref(session: Session, version: VersionRow) -> str:
    return f"{must_get(session, ModelRow, version.model_id).name}@{version.number}"


def release_evidence(reg: Registry, session: Session, release: ReleaseRow, env: EnvironmentRow,
                     envs: list[EnvironmentRow], *, version: VersionRow | None = None, extra: list[Any] | None = None
                     ) -> dict[str, Any]:
    """The full evidence document for promoting ``release`` into ``env``, about ``version`` (default: its first
    model version); ``extra``: more rows it rests on, checked with the rest."""
    version = version or must_get(session, VersionRow, release.version_id)
    read: list[Any] = [release, *(extra or [])]
    consult: list[int] = []
    doc = version_evidence(reg, session, version, read, consult)
    parts = session.scalars(select(ReleaseArtifactRow).where(ReleaseArtifactRow.release_id == release.id)).all()
    artifacts = [must_get(session, ArtifactRow, p.artifact_id) for p in parts]
    read += [*parts, *artifacts]
    approvals = given = session.scalars(select(ApprovalRow).where(ApprovalRow.release_id == release.id,
                                                          ApprovalRow.environment == env.name)).all()
    tier_changed = _risk_tier_changed_at(reg, session, must_get(session, ModelRow, version.model_id))
    if tier_changed is not None:  # approvals were given for the old risk tier: they are re-opened
        approvals = [a for a in approvals if _aware(a.created_at) > tier_changed]
    ring = key_ring(reg, session) if approvals else set()
    unproven = {a.approver: problem for a in approvals if (problem := statement_problem(
        reg, a.statement, "approval", release, {"environment": a.environment, "approver": a.approver}, ring))}
    approvals = [a for a in approvals if a.approver not in unproven]  # only what a signed statement proves counts
    others = {a.approver for a in approvals if a.approver != release.created_by}
    place = [e.name for e in envs].index(env.name)  # envs: the registered order, first to last
    previous_env = envs[place - 1] if place > 0 else None
    active = active_deployment(session, env)
    active_release = must_get(session, ReleaseRow, active.release_id) if active and active.release_id else None
    in_previous, prev_active = False, None
    if previous_env is not None:
        prev_active = active_deployment(session, previous_env)
        in_previous = bool(prev_active and prev_active.release_id == release.id)
    history = session.scalars(select(DeploymentRow.id).where(DeploymentRow.environment_id == env.id)).all()
    read += [*given, active, active_release, prev_active]
    require_intact(reg, session, read, [env, *([previous_env] if previous_env else [])], consult)
    rollback_target = active_release.name if active_release and active_release.id != release.id else None
    doc.update({
        "release": {"id": release.name, "name": release.name, "created_by": release.created_by,
                    "created_at": _aware(release.created_at).isoformat(),
                    "revoked": release.name in revoked_releases(reg, session)},
        "evals": _evals(reg, artifacts),
        "approvals": {"count": len(approvals), "distinct": len(others), "approvers": sorted(a.approver for a in approvals),
                      "roles": sorted({a.role for a in approvals if a.role}),
                      "by_submitter": any(a.approver == release.created_by for a in approvals),
                      "unproven": [f"{who} {why}" for who, why in sorted(unproven.items())]},
        "deployment": {"environment": env.name, "previous_environment": previous_env.name if previous_env else None,
                       "previous_release": active_release.name if active_release else None,
                       "rollback_target": rollback_target, "active_in_previous_env": in_previous,
                       "history_count": len(history)},
        "artifacts": [{"kind": a.kind, "name": f"{a.name}@{a.number}", "digest": a.digest} for a in artifacts],
    })
    return doc
