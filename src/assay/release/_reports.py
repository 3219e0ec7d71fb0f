"""The answers an incident asks for: ``status`` (what runs where, now or at a moment), ``history`` (every deployment
of an environment), ``release_report`` (everything about one release), ``approvals`` and ``waivers``.

Each reads in one transaction and first checks every row it shows against the audit entry that sealed it
(``require_intact``): a row changed outside assay is RecordTampered (exit 1), never shown as if true.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import UsageError
from assay.registry import (
    ApprovalRow,
    ArtifactRow,
    DeploymentRow,
    EnvironmentRow,
    ModelRow,
    Registry,
    ReleaseArtifactRow,
    ReleaseRow,
    VersionRow,
    WaiverRow,
    must_get,
)
from assay.release._evidence import _aware, release_versions, require_intact
from assay.release._revocation import revoked_releases
from assay.release._service import _env, _release, environments

REFUSALS = ("promote-refused", "canary-refused", "rollback-refused")
"""The audit entry kinds of a gate that said no (they change no row: the log is where they are)."""


def _shown(session: Session, *deployments: DeploymentRow | None) -> list[Any]:
    """The rows a report of ``deployments`` shows: each deployment with its release, versions and models."""
    rows: list[Any] = []
    for d in deployments:
        rel = session.get(ReleaseRow, d.release_id) if d and d.release_id else None
        rows += [d, rel]
        for _, version, row in release_versions(session, rel) if rel else ():
            rows += [row, version, session.get(ModelRow, version.model_id)]
    return rows


def _models(session: Session, rel: ReleaseRow) -> list[tuple[str | None, ModelRow, VersionRow]]:
    return [(role, must_get(session, ModelRow, v.model_id), v) for role, v, _ in release_versions(session, rel)]


def _describe(session: Session, d: DeploymentRow, revoked: set[str]) -> dict[str, Any]:
    rel = must_get(session, ReleaseRow, d.release_id) if d.release_id else None
    models = _models(session, rel) if rel else []
    replaced = must_get(session, DeploymentRow, d.replaces_id) if d.replaces_id else None
    replaced_rel = must_get(session, ReleaseRow, replaced.release_id) if replaced and replaced.release_id else None
    return {"seq": d.seq, "action": d.action, "release": rel.name if rel else None,
            "replaces": replaced_rel.name if replaced_rel else None,
            "revoked": bool(rel and rel.name in revoked),
            "model": " + ".join(f"{m.name}@{v.number}" for _, m, v in models) or None,
            "models": [{"role": role, "model": f"{m.name}@{v.number}", "identity": v.identity}
                       for role, m, v in models],
            "identity": models[0][2].identity if models else None, "traffic_percent": d.traffic_percent,
            "since": _aware(d.created_at).isoformat(), "by": d.created_by, "gate_passed": d.gate.get("passed"),
            "policy": d.policy_digest, "evidence": d.evidence_digests[0] if d.evidence_digests else None}


def _live(session: Session, env: EnvironmentRow, at: datetime | None) -> tuple[DeploymentRow | None,
                                                                              DeploymentRow | None]:
    """The deployment that made the active release of ``env`` active, and the canary beside it, now or at ``at``."""
    def newest(*where: Any) -> DeploymentRow | None:
        clauses = [DeploymentRow.environment_id == env.id, *where]
        if at is not None:
            clauses.append(DeploymentRow.created_at <= at.astimezone(UTC))
        return session.scalars(select(DeploymentRow).where(*clauses).order_by(DeploymentRow.seq.desc()).limit(1)
                               ).first()

    active = newest(DeploymentRow.action != "canary")
    canary = newest(DeploymentRow.action == "canary", DeploymentRow.seq > (active.seq if active else 0))
    return active, canary


def status(reg: Registry, env: str | None = None, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """Per environment: the active release (since when, by whom, on what evidence) and any canary; ``at``: as they
    were at that moment."""
    out = []
    with reg.read() as session:
        envs = environments(reg, session)
        revoked = set(revoked_releases(reg, session))
        for e in envs:
            if env is not None and e.name != env:
                continue
            active, canary = _live(session, e, at)
            require_intact(reg, session, _shown(session, active, canary), [e])
            out.append({"environment": e.name, "active": _describe(session, active, revoked) if active else None,
                        "canary": _describe(session, canary, revoked) if canary else None})
        if env is not None and not out:
            raise UsageError(f"unknown environment {env!r}")
        session.rollback()
    return out


def history(reg: Registry, env: str) -> list[dict[str, Any]]:
    """Every deployment, canary and rollback of ``env``, oldest first."""
    with reg.read() as session:
        environment, _ = _env(reg, session, env)
        rows = session.scalars(select(DeploymentRow).where(DeploymentRow.environment_id == environment.id)
                               .order_by(DeploymentRow.seq)).all()
        require_intact(reg, session, _shown(session, *rows), [environment])
        revoked = set(revoked_releases(reg, session))
        out = [_describe(session, d, revoked) for d in rows]
        session.rollback()
    return out


def _approval(a: ApprovalRow, release: str) -> dict[str, Any]:
    return {"release": release, "environment": a.environment, "approver": a.approver, "role": a.role,
            "comment": a.comment, "at": _aware(a.created_at).isoformat()}


def _waiver(w: WaiverRow, release: str, now: datetime) -> dict[str, Any]:
    return {"rule": w.rule_id, "release": release, "environment": w.environment, "approver": w.approver,
            "reason": w.reason, "expires_at": _aware(w.expires_at).isoformat(),
            "expired": _aware(w.expires_at) <= now, "at": _aware(w.created_at).isoformat()}


def _filtered(session: Session, row: Any, release: str | None, env: str | None) -> list[Any]:
    clauses = []
    if release is not None:
        clauses.append(row.release_id == _release(session, release).id)
    if env is not None:
        clauses.append(row.environment == env)
    return list(session.scalars(select(row).where(*clauses).order_by(row.id)))


def approvals(reg: Registry, *, release: str | None = None, env: str | None = None) -> list[dict[str, Any]]:
    """Every approval, oldest first; only those of ``release`` and of ``env`` when given."""
    with reg.read() as session:
        rows = _filtered(session, ApprovalRow, release, env)
        names = {r.id: r.name for r in session.scalars(select(ReleaseRow))}
        require_intact(reg, session, rows)
        out = [_approval(a, names.get(a.release_id, "?")) for a in rows]
        session.rollback()
    return out


def waivers(reg: Registry, *, release: str | None = None, env: str | None = None) -> list[dict[str, Any]]:
    """Every waiver, oldest first, with whether it has expired; only those of ``release`` and ``env`` when given."""
    with reg.read() as session:
        rows = _filtered(session, WaiverRow, release, env)
        names = {r.id: r.name for r in session.scalars(select(ReleaseRow))}
        require_intact(reg, session, rows)
        now = datetime.now(UTC)
        out = [_waiver(w, names.get(w.release_id, "?"), now) for w in rows]
        session.rollback()
    return out


def release_report(reg: Registry, name: str) -> dict[str, Any]:
    """Everything about release ``name``: its model version, artifacts and parameters by digest, its approvals and
    waivers, every gate that judged it (deployments, and refusals from the log), where it runs now, and whether it
    is revoked."""
    with reg.read() as session:
        rel = _release(session, name)
        models = _models(session, rel)
        model_rows = [row for _, _, row in release_versions(session, rel) if row is not None]
        parts = list(session.scalars(select(ReleaseArtifactRow).where(ReleaseArtifactRow.release_id == rel.id)))
        artifacts = [must_get(session, ArtifactRow, p.artifact_id) for p in parts]
        given = list(session.scalars(select(ApprovalRow).where(ApprovalRow.release_id == rel.id)
                                     .order_by(ApprovalRow.id)))
        waived = list(session.scalars(select(WaiverRow).where(WaiverRow.release_id == rel.id).order_by(WaiverRow.id)))
        deployed = list(session.scalars(select(DeploymentRow).where(DeploymentRow.release_id == rel.id)
                                        .order_by(DeploymentRow.id)))
        envs = {e.id: e for e in session.scalars(select(EnvironmentRow))}
        require_intact(reg, session, [rel, *model_rows, *(x for _, m, v in models for x in (m, v)), *parts,
                                      *artifacts, *given, *waived, *deployed],
                       list(envs.values()))
        revoked = revoked_releases(reg, session)
        now = datetime.now(UTC)
        live = {}
        for env in sorted(envs.values(), key=lambda e: e.position):
            active, canary = _live(session, env, None)
            for d, role in ((active, "active"), (canary, "canary")):
                if d is not None and d.release_id == rel.id:
                    live[env.name] = role
        refusals = [{"environment": e["payload"].get("environment"), "kind": e["kind"], "at": e["time"],
                     "by": e["actor"], "failed": e["payload"].get("failed", [])}
                    for e in reg.entries(session, *REFUSALS) if e["payload"].get("release") == rel.name]
        doc = {"release": rel.name, "digest": rel.digest, "note": rel.note, "created_by": rel.created_by,
               "created_at": _aware(rel.created_at).isoformat(),
               "revoked": revoked.get(rel.name),
               "models": [{"role": role, "model": f"{model.name}@{version.number}", "identity": version.identity,
                           "status": version.status, "scan": version.scan_verdict,
                           "signature": version.signature_status, "license": version.license_expression,
                           "license_class": version.license_class, "owner": model.owner,
                           "risk_tier": model.risk_tier} for role, model, version in models],
               "params": rel.params_digest,
               "artifacts": [{"kind": a.kind, "name": f"{a.name}@{a.number}", "digest": a.digest} for a in artifacts],
               "approvals": [_approval(a, rel.name) for a in given],
               "waivers": [_waiver(w, rel.name, now) for w in waived],
               "deployments": [{"environment": envs[d.environment_id].name, "seq": d.seq, "action": d.action,
                                "at": _aware(d.created_at).isoformat(), "by": d.created_by,
                                "gate_passed": d.gate.get("passed"), "policy": d.policy_digest,
                                "not_passed": [r.get("id", "?") + (" (waived)" if r.get("waived") else "")
                                               for r in d.gate.get("results", []) if not r.get("passed", True)],
                                "evidence": d.evidence_digests[0] if d.evidence_digests else None}
                               for d in deployed],
               "refusals": refusals, "active_in": live}
        session.rollback()
    return doc
