"""The evidence document a gate judges (schema in ``assay.release.policy.schema``), built from the registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import InputError
from assay.registry import (
    ApprovalRow,
    ArtifactRow,
    AuditEntryRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    LineageRow,
    ModelRow,
    Registry,
    ReleaseArtifactRow,
    ReleaseRow,
    VersionRow,
    must_get,
    read_eval_set,
)

UNSET_RISK_TIER = "high"
"""A model registered without a risk tier is judged as high risk: the gate fails closed."""
_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def active_deployment(session: Session, env: EnvironmentRow) -> DeploymentRow | None:
    """The deployment that made the current release active in ``env`` (canaries do not count)."""
    return session.scalars(select(DeploymentRow).where(DeploymentRow.environment_id == env.id,
                                                       DeploymentRow.action != "canary")
                           .order_by(DeploymentRow.seq.desc()).limit(1)).first()


def trusted_keys(home: Path) -> set[bytes]:
    """The public keys and CA files the team trusts: every ``*.pem`` under ``ASSAY_HOME/trust/``."""
    folder = home / "trust"
    if not folder.is_dir():
        return set()
    return {p.read_bytes().strip() for p in folder.glob("*.pem") if p.is_file()}


def version_evidence(reg: Registry, session: Session, version: VersionRow) -> dict[str, Any]:
    """The release-independent parts: model, scan, signature, license, card, lineage, evidence age."""
    model = must_get(session, ModelRow, version.model_id)
    evidence = session.scalars(select(EvidenceRow).where(EvidenceRow.subject_kind == "version",
                                                         EvidenceRow.subject_id == version.id)).all()
    by_kind = {e.kind: e for e in sorted(evidence, key=lambda e: e.id)}  # the newest of each kind wins
    rules: list[str] = []
    counts = {s: int(version.scan_counts.get(s, 0)) for s in _SEVERITIES}
    verdict = version.scan_verdict
    scanned_at = version.created_at
    latest_scan = by_kind.get("scan-report")
    if latest_scan is not None and reg.blobs.check(latest_scan.digest) is None:
        report = json.loads(reg.blobs.get(latest_scan.digest))  # a re-intake's rescan supersedes the first one
        rules = sorted({f["rule"] for file in report.get("files", []) for f in file.get("findings", [])})
        counts = {s: int(report.get("summary", {}).get("findings", {}).get(s, 0)) for s in _SEVERITIES}
        errors = report.get("summary", {}).get("errors", 0) or any(f.get("errors") for f in report.get("files", []))
        verdict = "error" if errors else ("findings" if any(counts.values()) else "clean")
        scanned_at = latest_scan.created_at
    elif latest_scan is not None:
        verdict = "error"  # the report the decision would rest on is missing or altered: fail closed
    trusted = trusted_keys(reg.home)
    key = by_kind.get("verification-key") or by_kind.get("verification-certs")
    key_trusted = key is not None and reg.blobs.exists(key.digest) and reg.blobs.get(key.digest).strip() in trusted
    status = version.signature_status if version.signature_status in ("verified", "failed") else "unsigned"
    edges = session.scalars(select(LineageRow).where(LineageRow.child_version_id == version.id)).all()
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


def _risk_tier_changed_at(session: Session, model: str) -> datetime | None:
    """When the model's risk tier last changed (``set_model_metadata``'s ``model-changed`` entry), or None."""
    bodies = session.execute(select(AuditEntryRow.body).where(AuditEntryRow.kind == "model-changed")
                             .order_by(AuditEntryRow.idx.desc())).scalars()
    for body in bodies:
        entry = json.loads(body)
        payload = entry.get("payload") or {}
        if payload.get("model") == model and "risk_tier" in (payload.get("changes") or {}):
            return _aware(datetime.fromisoformat(entry["time"]))
    return None


def release_evidence(reg: Registry, session: Session, release: ReleaseRow, env: EnvironmentRow,
                     envs: list[EnvironmentRow]) -> dict[str, Any]:
    """The full evidence document for promoting ``release`` into ``env``."""
    version = must_get(session, VersionRow, release.version_id)
    doc = version_evidence(reg, session, version)
    artifacts = list(session.scalars(select(ArtifactRow).join(ReleaseArtifactRow,
                                                              ReleaseArtifactRow.artifact_id == ArtifactRow.id)
                                     .where(ReleaseArtifactRow.release_id == release.id)))
    approvals = session.scalars(select(ApprovalRow).where(ApprovalRow.release_id == release.id,
                                                          ApprovalRow.environment == env.name)).all()
    tier_changed = _risk_tier_changed_at(session, must_get(session, ModelRow, version.model_id).name)
    if tier_changed is not None:  # approvals were given for the old risk tier: they are re-opened
        approvals = [a for a in approvals if _aware(a.created_at) > tier_changed]
    others = {a.approver for a in approvals if a.approver != release.created_by}
    previous_env = next((e for e in reversed(envs) if e.position < env.position), None)
    active = active_deployment(session, env)
    active_release = must_get(session, ReleaseRow, active.release_id) if active and active.release_id else None
    in_previous = False
    if previous_env is not None:
        prev_active = active_deployment(session, previous_env)
        in_previous = bool(prev_active and prev_active.release_id == release.id)
    history = session.scalars(select(DeploymentRow.id).where(DeploymentRow.environment_id == env.id)).all()
    rollback_target = active_release.name if active_release and active_release.id != release.id else None
    doc.update({
        "release": {"id": release.name, "name": release.name, "created_by": release.created_by,
                    "created_at": _aware(release.created_at).isoformat(), "revoked": False},
        "evals": _evals(reg, artifacts),
        "approvals": {"count": len(approvals), "distinct": len(others), "approvers": sorted(a.approver for a in approvals),
                      "roles": sorted({a.role for a in approvals if a.role}),
                      "by_submitter": any(a.approver == release.created_by for a in approvals)},
        "deployment": {"environment": env.name, "previous_environment": previous_env.name if previous_env else None,
                       "previous_release": active_release.name if active_release else None,
                       "rollback_target": rollback_target, "active_in_previous_env": in_previous,
                       "history_count": len(history)},
        "artifacts": [{"kind": a.kind, "name": f"{a.name}@{a.number}", "digest": a.digest} for a in artifacts],
    })
    return doc
