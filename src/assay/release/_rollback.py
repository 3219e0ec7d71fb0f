"""Rollback: back to the previous known-good release (the reports are in ``_reports``).

A rollback re-checks its target before switching: the files at the version's recorded location are hashed
again and must give the registered identity, the signature is verified again with the key that vouched at
intake, and every evidence blob must still match its digest. The rollback policy judges that; ``dry_run`` is a
fire drill that runs every check and changes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay._text import check_text
from assay.errors import AssayError, UsageError
from assay.registry import (
    KEPT_FILES,
    DeploymentRow,
    EvidenceRow,
    Registry,
    ReleaseRow,
    VersionRow,
    kept_files,
    must_get,
    restored,
)
from assay.release._evidence import active_deployment, release_evidences, release_versions, require_intact
from assay.release._governance import check_policy_environments, environment_names
from assay.release._judge import evidence_document, judge
from assay.release._revocation import revoked_releases
from assay.release._service import (
    GateFailed,
    Outcome,
    _commit_deployment,
    _env,
    _release,
    relied_on_evidence,
)
from assay.release.policy import load_rollback_policy


def _integrity(reg: Registry, session: Session, version: VersionRow) -> dict[str, Any]:
    """Re-hash the files, re-verify the signature, re-check the evidence blobs of ``version`` now. The files are
    those at the location intake read; when that folder is gone, the copy intake kept (``_copies``), restored from
    the store into a temporary folder, each file re-hashed as it is written."""
    mismatched: list[str] = []
    evidence = session.scalars(select(EvidenceRow).where(EvidenceRow.subject_kind == "version",
                                                         EvidenceRow.subject_id == version.id)).all()
    for e in evidence:
        problem = reg.blobs.check(e.digest)
        if problem is not None:
            mismatched.append(f"evidence {e.kind}: {problem.message}")
    by_kind = {e.kind: e for e in evidence}
    location = Path(version.location) if version.location else None
    result = {"files_match": False, "signature_match": False, "files_from": "location"}
    if location is not None and location.exists():
        _check_files(reg, version, location, by_kind, mismatched, result)
    elif KEPT_FILES in by_kind:
        result["files_from"] = "kept copy"
        try:
            with restored(reg.blobs, kept_files(reg.blobs.get_verified(by_kind[KEPT_FILES].digest))) as copy:
                _check_files(reg, version, copy, by_kind, mismatched, result)
        except AssayError as exc:
            mismatched.append(f"files: {version.location or 'the folder'} is gone and the kept copy failed: {exc}")
    else:
        mismatched.append(f"files: {version.location or 'no location recorded'} is gone, and no copy was kept")
    evidence_intact = not any(m.startswith("evidence") for m in mismatched)
    return {**result, "files_match": bool(result["files_match"]) and evidence_intact, "mismatched": mismatched}


def _check_files(reg: Registry, version: VersionRow, folder: Path, by_kind: dict[str, EvidenceRow],
                 mismatched: list[str], result: dict[str, Any]) -> None:
    from assay.manifest import hash_model

    try:
        result["files_match"] = hash_model(folder).identity == version.identity
    except AssayError as exc:
        mismatched.append(f"files: {exc}")
    else:
        if not result["files_match"]:
            mismatched.append(f"files: {result['files_from']} {folder} no longer hashes to {version.identity}")
    bundle, key = by_kind.get("signature"), by_kind.get("verification-key") or by_kind.get("verification-certs")
    if bundle is not None and key is not None and reg.blobs.check(bundle.digest) is None:
        result["signature_match"] = _reverify(reg, folder, bundle, key, mismatched)


def _reverify(reg: Registry, location: Path, bundle: EvidenceRow, key: EvidenceRow, mismatched: list[str]) -> bool:
    from assay.signing import verifier_for, verify_model

    with tempfile.TemporaryDirectory() as tmp:
        sig, pem = Path(tmp) / "model.sig", Path(tmp) / "key.pem"
        sig.write_bytes(reg.blobs.get(bundle.digest))
        pem.write_bytes(reg.blobs.get(key.digest))
        try:
            verifier = (verifier_for(public_key=pem) if key.kind == "verification-key"
                        else verifier_for(cert_chain=pem))
            result = verify_model(location, verifier, signature=sig)
        except AssayError as exc:
            mismatched.append(f"signature: {exc}")
            return False
    if not result.ok:
        mismatched.append(f"signature: {result.problems[0].message}")
    return result.ok


def rollback(reg: Registry, env: str, *, to: str | None = None, dry_run: bool = False, reason: str | None = None
             ) -> Outcome:
    """Switch ``env`` back to ``to`` or to the previous known-good release, if the target still checks out under
    the shipped rollback policy (never one the caller chooses). ``reason`` is recorded in its audit entry (and in
    that of a refusal)."""
    if reason is not None:
        check_text(reason, "--reason", multiline=True)
    policy = load_rollback_policy()
    with reg.read() as session:
        check_policy_environments(policy, environment_names(reg, session))
        environment, envs = _env(reg, session, env)
        seen_seq = environment.deploy_seq
        active = active_deployment(session, environment)
        if active is None:
            raise UsageError(f"nothing is deployed in {env}: there is nothing to roll back")
        current = must_get(session, ReleaseRow, active.release_id)
        require_intact(reg, session, [active, current, *_earlier_deployments(session, active)], [environment])
        revoked = set(revoked_releases(reg, session))
        target = _chosen_target(session, active, env, to, revoked) if to else \
            _previous_release(session, active, revoked)
        if target is None:
            raise UsageError(f"{env} has no earlier release to roll back to (give --to RELEASE)")
        if target.id == current.id:
            raise UsageError(f"{target.name} is already active in {env}")
        docs = release_evidences(reg, session, target, environment, envs)
        for doc, (_, version, _) in zip(docs, release_versions(session, target), strict=True):
            doc["integrity"] = _integrity(reg, session, version)  # every model of the release, re-checked
        result = judge(policy, docs, environment=env)
        evidence = evidence_document(docs)
        integrity = [doc["integrity"] for doc in docs]
        logged = integrity[0] if len(integrity) == 1 else integrity  # a one-model release logs it as it always did
        relied_on = relied_on_evidence(session, target)
        target_id, target_name, current_name = target.id, target.name, current.name
        session.rollback()
    if dry_run:
        return Outcome("rollback", env, target_name, current_name, result, dry_run=True)
    if not result.passed:
        with reg.write() as session:
            reg.log(session, "rollback-refused", {"environment": env, "release": target_name, "reason": reason,
                                                  "failed": [r.id for r in result.failures],
                                                  "integrity": logged})
        raise GateFailed(f"rollback of {env} to {target_name} refused: " + "; ".join(
            f"{r.id}: {r.message}" for r in result.failures if r.blocking))
    blob = _commit_deployment(reg, env, seen_seq, target_id, "rollback", 100, result, policy.digest, evidence,
                              relied_on, {"release": target_name, "replaces": current_name, "reason": reason,
                                          "integrity": logged})
    return Outcome("rollback", env, target_name, current_name, result, evidence_digest=blob)


def _earlier_deployments(session: Session, active: DeploymentRow) -> list[DeploymentRow]:
    """Full deployments (promotions and rollbacks, not canaries) of the active one's environment before it, newest
    first."""
    return list(session.scalars(select(DeploymentRow).where(DeploymentRow.environment_id == active.environment_id,
                                                            DeploymentRow.action != "canary",
                                                            DeploymentRow.seq < active.seq)
                                .order_by(DeploymentRow.seq.desc())))


def _chosen_target(session: Session, active: DeploymentRow, env: str, to: str, revoked: set[str]) -> ReleaseRow:
    """``--to``: only a release that was active in this environment before (a rollback never deploys a release
    that no gate let into ``env``) and is not revoked."""
    target = _release(session, to)
    if target.name in revoked:
        raise UsageError(f"{target.name} is revoked: it is no rollback target")
    earlier = {row.release_id for row in _earlier_deployments(session, active)}
    if target.id not in earlier and target.id != active.release_id:
        raise UsageError(f"{target.name} was never active in {env}: a rollback only returns to a release that was "
                         f"(promote it through the gate instead)")
    return target


def _previous_release(session: Session, active: DeploymentRow, revoked: set[str]) -> ReleaseRow | None:
    """The known-good release before the active one: the newest earlier full deployment in the same environment
    whose release differs from the active one, was never rolled back from (a release a rollback left is not
    known-good) and is not revoked."""
    rows = _earlier_deployments(session, active)
    left = {row.replaces_id for row in rows if row.action == "rollback"}
    if active.action == "rollback":
        left.add(active.replaces_id)
    rolled_back = {row.release_id for row in session.scalars(select(DeploymentRow).where(DeploymentRow.id.in_(left)))} \
        if left else set()
    for row in rows:
        if row.release_id is not None and row.release_id != active.release_id and row.release_id not in rolled_back:
            candidate = must_get(session, ReleaseRow, row.release_id)
            if candidate.name not in revoked:
                return candidate
    return None
