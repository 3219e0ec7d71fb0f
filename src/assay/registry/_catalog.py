"""Registering datasets and artifacts (content-addressed, idempotent, numbered per name); changing a model's
attributes on the record."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay.errors import InputError, UsageError
from assay.registry._evalset import read_eval_set
from assay.registry._interface import (
    ARTIFACT_KINDS,
    ArtifactInfo,
    DatasetInfo,
    NotFound,
    check_model_attributes,
    check_name,
)
from assay.registry._schema import ArtifactRow, DatasetRow, ModelRow
from assay.registry._store import Registry, now

MAX_ARTIFACT_BYTES = 64 << 20
"""Artifacts are prompts, schemas and parameters: anything larger is refused (``max_bytes`` argument)."""


def register_dataset(reg: Registry, path: Path, *, name: str, source_url: str | None = None,
                     license: str | None = None, consent: str | None = None, retention_days: int | None = None,
                     pii: bool | None = None) -> DatasetInfo:
    """Hash a dataset folder (or file) into a manifest and record it; the same bytes twice is the same version."""
    from assay.manifest import hash_model

    check_name(name, "dataset name")
    if retention_days is not None and retention_days < 0:
        raise UsageError("--retention must be a number of days, 0 or more")
    manifest = hash_model(path)
    manifest_json = json.dumps(manifest.to_json(), indent=2, sort_keys=True).encode()
    total = _total_bytes(path)
    with reg.write() as session:
        reg.lock_name(session, "dataset", name)
        existing = session.scalars(select(DatasetRow).where(DatasetRow.name == name,
                                                            DatasetRow.identity == manifest.identity)).one_or_none()
        if existing is not None:
            return reg.dataset_info(existing, created=False)
        blob = reg.blobs.put(manifest_json)
        row = DatasetRow(name=name, number=reg.next_number(session, DatasetRow.number, DatasetRow.name == name),
                         identity=manifest.identity, file_count=len(manifest.resources), total_bytes=total,
                         source_url=source_url, license=license, consent=consent, retention_days=retention_days,
                         pii=pii, manifest_digest=blob.digest, created_by=reg.actor, created_at=now())
        session.add(row)
        session.flush()
        reg.evidence_rows(session, "dataset", row.id, [("manifest", "manifest.json", manifest_json,
                                                        "application/json")])
        reg.log(session, "dataset-registered", {"dataset": f"{name}@{row.number}", "identity": row.identity,
                                                "manifest": blob.digest, "license": license, "pii": pii})
        return reg.dataset_info(row)


def add_artifact(reg: Registry, path: Path, *, kind: str, name: str, max_bytes: int = MAX_ARTIFACT_BYTES
                 ) -> ArtifactInfo:
    """Store a prompt, schema or parameter file by content and number it under ``name``."""
    check_name(name, "artifact name")
    if kind not in ARTIFACT_KINDS:
        raise UsageError(f"unknown artifact kind {kind!r}; use one of {', '.join(ARTIFACT_KINDS)}")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"{path} is not a file")
        if size > max_bytes:
            raise InputError(f"{path} is {size} bytes, over max_artifact_bytes ({max_bytes})")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if kind in ("tool-schema", "params") and path.suffix.lower() == ".json":
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: a {kind} file named .json must be valid JSON ({exc})") from None
    if kind == "eval-set":
        try:
            read_eval_set(data)
        except InputError as exc:
            raise InputError(f"{path}: not an eval-set: {exc}") from None
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    with reg.write() as session:
        reg.lock_name(session, "artifact", name)
        blob = reg.blobs.put(data)
        existing = session.scalars(select(ArtifactRow).where(ArtifactRow.name == name,
                                                             ArtifactRow.digest == blob.digest)).one_or_none()
        if existing is not None:
            return reg.artifact_info(existing, created=False)
        row = ArtifactRow(name=name, number=reg.next_number(session, ArtifactRow.number, ArtifactRow.name == name),
                          kind=kind, digest=blob.digest, media_type=media, size=blob.size, created_by=reg.actor,
                          created_at=now())
        session.add(row)
        session.flush()
        reg.log(session, "artifact-added", {"artifact": f"{name}@{row.number}", "kind": kind, "digest": blob.digest})
        return reg.artifact_info(row)


def _total_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


MODEL_ATTRIBUTES = ("owner", "risk_tier", "intended_use", "data_sensitivity")
"""The attributes of a model that ``set_model_metadata`` changes (intake sets them only on a new model)."""


def set_model_metadata(reg: Registry, name: str, changes: dict[str, str]) -> dict[str, Any]:
    """Change some of a model's attributes, recording old and new values and who changed them in the audit log
    (entry ``model-changed``). A risk-tier change re-opens approvals: the gate counts only approvals given after
    it (``assay.release``). Returns ``{"model", "changes": {attribute: {"from", "to"}}}``."""
    unknown = set(changes) - set(MODEL_ATTRIBUTES)
    if unknown or not changes:
        raise UsageError(f"give at least one of {', '.join(MODEL_ATTRIBUTES)}" if not changes
                         else f"unknown model attribute(s): {', '.join(sorted(unknown))}")
    check_model_attributes(changes)
    for key, value in changes.items():
        if not value.strip():
            raise UsageError(f"--{key.replace('_', '-')} must not be empty")
    with reg.write() as session:
        row = session.scalars(select(ModelRow).where(ModelRow.name == name).with_for_update()).one_or_none()
        if row is None:
            raise NotFound(f"no model {name!r}")
        done = {k: {"from": getattr(row, k), "to": v} for k, v in changes.items() if getattr(row, k) != v}
        for key, change in done.items():
            setattr(row, key, change["to"])
        if done:
            reg.log(session, "model-changed", {"model": name, "changes": done})
    return {"model": name, "changes": done}
