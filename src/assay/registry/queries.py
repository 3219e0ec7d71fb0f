"""The registry's answers: ``models``, ``show``, ``lineage``, ``where`` and ``doctor``.

Each is a handful of indexed queries, so answers stay fast with tens of thousands of versions.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from assay.registry.interface import DoctorProblem, LineageLink, LineageTree, ModelSummary, VersionInfo, WhereHit
from assay.registry.schema import (ArtifactRow, DatasetRow, DeploymentRow, EnvironmentRow, EvidenceRow, LineageRow,
                                   ModelRow, ReleaseArtifactRow, ReleaseRow, VersionFileRow, VersionRow)
from assay.registry.store import Registry, must_get

MAX_LINEAGE_DEPTH = 32
"""Ancestor chains are followed this far (a cycle cannot arise from intake, but rows can be edited)."""
_HEX = re.compile(r"(?:(sha256|blake2b|blake3):)?([0-9a-fA-F]{8,128})")


def list_models(reg: Registry, *, owner: str | None = None, license_class: str | None = None,
                status: str | None = None, limit: int | None = None) -> list[ModelSummary]:
    """Every model with its newest version; the filters apply to the model's owner and its newest version.

    Selects plain columns, not ORM entities: building two mapped objects per model cost most of the time.
    """
    latest = (select(VersionRow.model_id, func.max(VersionRow.number).label("n"), func.count().label("c"))
              .group_by(VersionRow.model_id).subquery())
    q = (select(ModelRow.name, ModelRow.owner, ModelRow.risk_tier, latest.c.c, VersionRow.number,
                VersionRow.identity, VersionRow.status, VersionRow.license_class, VersionRow.scan_verdict,
                VersionRow.signature_status)
         .outerjoin(latest, latest.c.model_id == ModelRow.id)
         .outerjoin(VersionRow, (VersionRow.model_id == ModelRow.id) & (VersionRow.number == latest.c.n))
         .order_by(ModelRow.name))
    if owner:
        q = q.where(ModelRow.owner == owner)
    if license_class:
        q = q.where(VersionRow.license_class == license_class)
    if status:
        q = q.where(VersionRow.status == status)
    if limit:
        q = q.limit(limit)
    with reg.read() as session:
        return [ModelSummary(name, owner_, tier, count or 0, *rest)
                for name, owner_, tier, count, *rest in session.execute(q)]


def show(reg: Registry, ref: str) -> VersionInfo:
    """Everything known about ``NAME[@VERSION]``, evidence and parents included."""
    with reg.read() as session:
        model, row = reg.find_version(session, ref)
        return reg.version_info(session, model, row)


def lineage(reg: Registry, ref: str) -> LineageTree:
    """Base models up (recursively through registered versions), derived versions down, datasets."""
    with reg.read() as session:
        model, row = reg.find_version(session, ref)
        edges = session.scalars(select(LineageRow).where(LineageRow.child_version_id == row.id)
                                .order_by(LineageRow.id)).all()
        up = tuple(reg.link(session, e, up=True) for e in edges if e.parent_kind == "model")
        datasets = tuple(reg.link(session, e, up=True) for e in edges if e.parent_kind == "dataset")
        children = session.scalars(select(LineageRow).where(
            (LineageRow.parent_version_id == row.id)
            | ((LineageRow.parent_version_id.is_(None)) & (LineageRow.parent_kind == "model")
               & (LineageRow.parent_name == model.name))).order_by(LineageRow.id)).all()
        down = tuple(reg.link(session, e, up=False) for e in children if e.child_version_id != row.id)
        paths = []
        for e in edges:
            if e.parent_version_id is None:
                continue
            chain: list[str] = []
            current, seen = e.parent_version_id, {row.id}
            while current is not None and current not in seen and len(chain) < MAX_LINEAGE_DEPTH:
                seen.add(current)
                v = must_get(session, VersionRow, current)
                chain.append(f"{must_get(session, ModelRow, v.model_id).name}@{v.number}")
                current = session.scalar(select(LineageRow.parent_version_id).where(
                    LineageRow.child_version_id == current, LineageRow.parent_version_id.is_not(None)).limit(1))
            paths.append(tuple(chain))
        return LineageTree(f"{model.name}@{row.number}", row.identity, up, datasets, down, tuple(paths))


def where(reg: Registry, query: str) -> list[WhereHit]:
    """Every version, dataset, artifact and evidence blob that is, contains or derives from ``query``.

    ``query`` is a digest (``sha256:<hex>``, a bare hex prefix of 8+ digits) or ``NAME@VERSION``.
    """
    hits: list[WhereHit] = []
    with reg.read() as session:
        version_ids: list[int] = []
        dataset_ids: list[int] = []
        match = _HEX.fullmatch(query)
        if match:
            algo, hexpart = match.group(1) or "sha256", match.group(2).lower()
            digest = f"{algo}:{hexpart}"
            exact = len(hexpart) == 64
            for v, m in session.execute(select(VersionRow, ModelRow).join(ModelRow).where(
                    VersionRow.identity == digest if exact else VersionRow.identity.startswith(digest))):
                hits.append(WhereHit("version", f"{m.name}@{v.number}", "identity"))
                version_ids.append(v.id)
            for f, v, m in session.execute(select(VersionFileRow, VersionRow, ModelRow)
                                           .join(VersionRow, VersionFileRow.version_id == VersionRow.id)
                                           .join(ModelRow).where(VersionFileRow.digest == digest if exact else
                                                                 VersionFileRow.digest.startswith(digest))):
                hits.append(WhereHit("version", f"{m.name}@{v.number}", f"contains {f.path}"))
                version_ids.append(v.id)
            for d in session.scalars(select(DatasetRow).where(DatasetRow.identity == digest if exact else
                                                              DatasetRow.identity.startswith(digest))):
                hits.append(WhereHit("dataset", f"{d.name}@{d.number}", "identity"))
                dataset_ids.append(d.id)
            for a in session.scalars(select(ArtifactRow).where(ArtifactRow.digest == digest if exact else
                                                               ArtifactRow.digest.startswith(digest))):
                hits.append(WhereHit("artifact", f"{a.name}@{a.number}", f"{a.kind} content"))
                for r in session.scalars(select(ReleaseRow).join(ReleaseArtifactRow, ReleaseArtifactRow.release_id
                                                                 == ReleaseRow.id)
                                         .where(ReleaseArtifactRow.artifact_id == a.id)):
                    hits.append(WhereHit("release", r.name, f"includes {a.kind} {a.name}@{a.number}"))
            for ev in session.scalars(select(EvidenceRow).where(EvidenceRow.digest == digest if exact else
                                                                EvidenceRow.digest.startswith(digest))):
                hits.append(WhereHit("evidence", _subject(session, ev), f"cites {ev.name} as {ev.kind}"))
        elif "@" in query:
            name = query.partition("@")[0]
            if session.scalar(select(ModelRow.id).where(ModelRow.name == name)) is not None:
                model, row = reg.find_version(session, query)
                hits.append(WhereHit("version", f"{model.name}@{row.number}", "identity"))
                version_ids.append(row.id)
            else:
                ds = reg.find_dataset(session, query)
                hits.append(WhereHit("dataset", f"{ds.name}@{ds.number}", "identity"))
                dataset_ids.append(ds.id)
        else:
            model, row = reg.find_version(session, query)
            hits.append(WhereHit("version", f"{model.name}@{row.number}", "identity"))
            version_ids.append(row.id)
        for ds_id in dataset_ids:
            for e in session.scalars(select(LineageRow).where(LineageRow.parent_dataset_id == ds_id)):
                link = reg.link(session, e, up=False)
                hits.append(WhereHit("descendant", link.name, "trained on it"))
                version_ids.append(e.child_version_id)
        _descendants(reg, session, version_ids, hits)
        _releases(session, version_ids, hits)
    return list(dict.fromkeys(hits))  # WhereHit is frozen, hence hashable: first occurrence wins


def _descendants(reg: Registry, session, roots: list[int], hits: list[WhereHit]) -> None:  # noqa: ANN001
    frontier, seen, depth = list(dict.fromkeys(roots)), set(roots), 0
    while frontier and depth < MAX_LINEAGE_DEPTH:
        edges = session.scalars(select(LineageRow).where(LineageRow.parent_version_id.in_(frontier))).all()
        frontier = []
        for e in edges:
            link: LineageLink = reg.link(session, e, up=False)
            hits.append(WhereHit("descendant", link.name, f"{e.relation} of " + _version_ref(session, e.parent_version_id)))
            if e.child_version_id not in seen:
                seen.add(e.child_version_id)
                frontier.append(e.child_version_id)
        depth += 1


def _releases(session, version_ids: list[int], hits: list[WhereHit]) -> None:  # noqa: ANN001
    """Releases of the versions found (directly or as descendants), and where each is deployed now."""
    ids = set(version_ids) | {_version_id(session, h.ref) for h in hits if h.kind == "descendant"}
    ids.discard(None)
    if not ids:
        return
    for r in session.scalars(select(ReleaseRow).where(ReleaseRow.version_id.in_(ids)).order_by(ReleaseRow.id)):
        hits.append(WhereHit("release", r.name, "uses " + _version_ref(session, r.version_id)))
        for env in session.scalars(select(EnvironmentRow)):
            latest = session.scalars(select(DeploymentRow).where(DeploymentRow.environment_id == env.id,
                                                                 DeploymentRow.release_id == r.id)
                                     .order_by(DeploymentRow.seq.desc()).limit(1)).first()
            if latest is not None:
                active_seq = session.scalar(select(DeploymentRow.seq).where(DeploymentRow.environment_id == env.id,
                                                                            DeploymentRow.action != "canary")
                                            .order_by(DeploymentRow.seq.desc()).limit(1)) or 0
                live = latest.seq == active_seq or (latest.action == "canary" and latest.seq > active_seq)
                state = "active" if live else "since replaced"
                hits.append(WhereHit("deployment", f"{env.name}#{latest.seq}", f"{latest.action} of {r.name} ({state})"))


def _version_id(session, ref: str) -> int | None:  # noqa: ANN001
    name, _, number = ref.partition("@")
    return session.scalar(select(VersionRow.id).join(ModelRow).where(ModelRow.name == name,
                                                                     VersionRow.number == int(number)))


def _version_ref(session, version_id: int) -> str:  # noqa: ANN001
    v = must_get(session, VersionRow, version_id)
    return f"{must_get(session, ModelRow, v.model_id).name}@{v.number}"


def _subject(session, e: EvidenceRow) -> str:  # noqa: ANN001
    if e.subject_kind == "version":
        return _version_ref(session, e.subject_id)
    if e.subject_kind == "dataset":
        d = must_get(session, DatasetRow, e.subject_id)
        return f"{d.name}@{d.number}"
    return f"{e.subject_kind}:{e.subject_id}"


def doctor(reg: Registry) -> list[DoctorProblem]:
    """Check every cited evidence blob against its digest, and list blobs no row cites."""
    problems: list[DoctorProblem] = []
    with reg.read() as session:
        cited: dict[str, list[str]] = {}
        for e in session.scalars(select(EvidenceRow).order_by(EvidenceRow.id)):
            cited.setdefault(e.digest, []).append(f"{_subject(session, e)} {e.kind} {e.name}")
    for digest, citers in cited.items():
        problem = reg.blobs.check(digest)
        if problem is not None:
            problems.append(DoctorProblem(problem.kind, digest, problem.message, tuple(citers)))
    for digest in reg.blobs.digests():
        if digest not in cited:
            problems.append(DoctorProblem("orphan", digest, f"evidence {digest} is stored but cited by no row"))
    return problems
