"""``artifact list|show`` and ``dataset list|show``: the registry's prompts, tool schemas, parameters and datasets,
and for each one which releases use it and where those run (through ``Reader``'s one read path)."""

from __future__ import annotations

from typing import Any

from assay.registry._reader import Reader, _in
from assay.registry._refs import find_artifact, find_dataset


def _when(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _artifact_doc(a: Any) -> dict[str, Any]:
    return {"artifact": f"{a.name}@{a.number}", "kind": a.kind, "digest": a.digest, "size": a.size,
            "media_type": a.media_type, "created_by": a.created_by, "created_at": _when(a.created_at)}


def _dataset_doc(d: Any) -> dict[str, Any]:
    return {"dataset": f"{d.name}@{d.number}", "identity": d.identity, "files": d.file_count, "bytes": d.total_bytes,
            "source_url": d.source_url, "license": d.license, "consent": d.consent,
            "retention_days": d.retention_days, "pii": d.pii, "created_by": d.created_by,
            "created_at": _when(d.created_at)}


def _releases(reader: Reader, rows: list[Any]) -> list[dict[str, Any]]:
    return [{"release": r.name, "model": " + ".join(reader.release_models(r)),
             "deployments": reader.deployments_of(r.id)} for r in rows]


def list_artifacts(reader: Reader, kind: str | None = None) -> list[dict[str, Any]]:
    """Every artifact version, oldest first (only those of ``kind`` when given)."""
    rows = reader.sql.rows("SELECT * FROM artifacts" + (" WHERE kind = :k" if kind else "") + " ORDER BY name, number",
                           k=kind)
    return [_artifact_doc(a) for a in rows]


def artifact_report(reader: Reader, ref: str) -> dict[str, Any]:
    """One artifact version with the releases that include it and where each is deployed."""
    a = find_artifact(reader.sql, ref)
    releases = reader.sql.rows("SELECT r.id, r.name, r.version_id FROM releases r JOIN release_artifacts ra "
                               "ON ra.release_id = r.id WHERE ra.artifact_id = :a ORDER BY r.id", a=a.id)
    return {**_artifact_doc(a), "releases": _releases(reader, releases)}


def list_datasets(reader: Reader) -> list[dict[str, Any]]:
    """Every dataset version, by name and number."""
    return [_dataset_doc(d) for d in reader.sql.rows("SELECT * FROM datasets ORDER BY name, number")]


def dataset_report(reader: Reader, ref: str) -> dict[str, Any]:
    """One dataset version with the model versions trained on it, their releases and where those run."""
    d = find_dataset(reader.sql, ref)
    edges = reader.sql.rows("SELECT child_version_id, relation FROM lineage WHERE parent_dataset_id = :i ORDER BY id",
                            i=d.id)
    versions = list(dict.fromkeys(e.child_version_id for e in edges))
    models = [{"model": reader.version_ref(v), "relation": next(e.relation for e in edges if e.child_version_id == v)}
              for v in versions]
    releases = reader.releases_using(*_in(versions)) if versions else []
    return {**_dataset_doc(d), "models": models, "releases": _releases(reader, releases)}
