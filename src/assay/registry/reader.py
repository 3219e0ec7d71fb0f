"""The registry's read-only answers: ``models``, ``show``, ``lineage``, ``where`` and what ``doctor`` cites.

One way to read: SQLAlchemy selects over the mapped tables in ``schema.py``, on a ``Session`` (the Python API's
snapshot session, or a write transaction that must see its own rows), with columns read by name. References
resolve through ``refs.py``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from assay.errors import InputError
from assay.registry.interface import EvidenceInfo, LineageLink, LineageTree, ModelSummary, VersionInfo, WhereHit
from assay.registry.refs import find_version, resolve
from assay.registry.schema import (
    ArtifactRow,
    DatasetRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    LineageRow,
    ModelRow,
    ReleaseArtifactRow,
    ReleaseRow,
    VersionFileRow,
    VersionRow,
)

MAX_LINEAGE_DEPTH = 32
"""Ancestor and descendant chains are followed this far (a cycle cannot arise from intake, but rows can be edited)."""
_HEX = re.compile(r"(?:(sha256|blake2b|blake3):)?([0-9a-fA-F]{8,128})")


class Reader:
    """Read-only queries in one ``Session``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- names of rows --------------------------------------------------------------------------------------
    def version_ref(self, version_id: int) -> str:
        """``NAME@N`` of a version id."""
        found = self.session.execute(select(ModelRow.name, VersionRow.number).join(
            ModelRow, ModelRow.id == VersionRow.model_id).where(VersionRow.id == version_id)).first()
        if found is None:
            raise InputError(f"the registry database is inconsistent: model_versions row {version_id} is missing "
                             "(was it edited by hand?)")
        return f"{found.name}@{found.number}"

    def dataset_ref(self, dataset_id: int) -> str | None:
        """``NAME@N`` of a dataset id; None when the row is gone."""
        found = self.session.execute(select(DatasetRow.name, DatasetRow.number)
                                     .where(DatasetRow.id == dataset_id)).first()
        return f"{found.name}@{found.number}" if found is not None else None

    def subject(self, kind: str, subject_id: int) -> str:
        """``NAME@N`` of an evidence subject (version or dataset), else ``kind:id``."""
        if kind == "version":
            return self.version_ref(subject_id)
        if kind == "dataset":
            ref = self.dataset_ref(subject_id)
            if ref is not None:
                return ref
        return f"{kind}:{subject_id}"

    # -- answers --------------------------------------------------------------------------------------------
    def list_models(self, *, owner: str | None = None, license_class: str | None = None, status: str | None = None,
                    limit: int | None = None) -> list[ModelSummary]:
        """Every model with its newest version; the filters apply to the owner and the newest version."""
        newest = (select(VersionRow.model_id, func.max(VersionRow.number).label("latest"),
                         func.count().label("versions")).group_by(VersionRow.model_id).subquery())
        q = (select(ModelRow.name, ModelRow.owner, ModelRow.risk_tier, newest.c.versions, newest.c.latest,
                    VersionRow.identity, VersionRow.status, VersionRow.license_class, VersionRow.scan_verdict,
                    VersionRow.signature_status)
             .outerjoin(newest, newest.c.model_id == ModelRow.id)
             .outerjoin(VersionRow, (VersionRow.model_id == ModelRow.id) & (VersionRow.number == newest.c.latest)))
        for column, value in ((ModelRow.owner, owner), (VersionRow.license_class, license_class),
                              (VersionRow.status, status)):
            if value:
                q = q.where(column == value)
        q = q.order_by(ModelRow.name)
        if limit:
            q = q.limit(int(limit))
        return [ModelSummary(name=m.name, owner=m.owner, risk_tier=m.risk_tier, versions=m.versions or 0,
                             latest=m.latest, latest_identity=m.identity, status=m.status,
                             license_class=m.license_class, scan_verdict=m.scan_verdict,
                             signature_status=m.signature_status)
                for m in self.session.execute(q)]

    def show(self, ref: str) -> VersionInfo:
        """Everything known about ``NAME[@VERSION]``, evidence and parents included."""
        return self.version_info(*find_version(self.session, ref))

    def version_info(self, model: ModelRow, v: VersionRow) -> VersionInfo:
        """The value type for a version, with its evidence and parents."""
        evidence = tuple(EvidenceInfo(e.kind, e.name, e.digest, e.media_type, e.size) for e in self.session.scalars(
            select(EvidenceRow).where(EvidenceRow.subject_kind == "version", EvidenceRow.subject_id == v.id)
            .order_by(EvidenceRow.id)))
        parents = tuple(self._link(e, up=True) for e in self._edges(LineageRow.child_version_id == v.id))
        return VersionInfo(
            model=model.name, number=v.number, identity=v.identity, status=v.status,
            status_reasons=tuple(v.status_reasons), owner=model.owner, risk_tier=model.risk_tier,
            intended_use=model.intended_use, data_sensitivity=model.data_sensitivity, source_url=v.source_url,
            publisher=v.publisher, revision=v.revision, formats=tuple(v.formats), file_count=v.file_count,
            total_bytes=v.total_bytes, license_expression=v.license_expression, license_class=v.license_class,
            license_obligations=tuple(v.license_obligations), signature_status=v.signature_status, signer=v.signer,
            scan_verdict=v.scan_verdict, scan_counts=dict(v.scan_counts), card=dict(v.card),
            missing=tuple(v.missing), created_by=v.created_by, created_at=v.created_at, evidence=evidence,
            parents=parents)

    def lineage(self, ref: str) -> LineageTree:
        """Base models up (recursively through registered versions), derived versions down, datasets."""
        model, v = find_version(self.session, ref)
        edges = self._edges(LineageRow.child_version_id == v.id)
        up = tuple(self._link(e, up=True) for e in edges if e.parent_kind == "model")
        datasets = tuple(self._link(e, up=True) for e in edges if e.parent_kind == "dataset")
        children = self._edges(or_(LineageRow.parent_version_id == v.id,
                                   (LineageRow.parent_version_id.is_(None)) & (LineageRow.parent_kind == "model")
                                   & (LineageRow.parent_name == model.name)))
        down = tuple(self._link(e, up=False) for e in children if e.child_version_id != v.id)
        paths = []
        for e in edges:
            chain: list[str] = []
            current, seen = e.parent_version_id, {v.id}
            while current is not None and current not in seen and len(chain) < MAX_LINEAGE_DEPTH:
                seen.add(current)
                chain.append(self.version_ref(current))
                current = self.session.scalars(
                    select(LineageRow.parent_version_id).where(LineageRow.child_version_id == current,
                                                               LineageRow.parent_version_id.is_not(None))
                    .order_by(LineageRow.id).limit(1)).first()
            if chain:
                paths.append(tuple(chain))
        return LineageTree(f"{model.name}@{v.number}", v.identity, up, datasets, down, tuple(paths))

    def where(self, query: str) -> list[WhereHit]:
        """Every version, dataset, artifact, release and evidence blob that is, contains or derives from
        ``query``: a digest (``sha256:<hex>``, or a bare hex prefix of 8+ digits) or a reference of any kind."""
        hits: list[WhereHit] = []
        version_ids: list[int] = []
        dataset_ids: list[int] = []
        match = _HEX.fullmatch(query)
        if match:
            self._digest_hits(f"{match.group(1) or 'sha256'}:{match.group(2).lower()}", len(match.group(2)) == 64,
                              hits, version_ids, dataset_ids)
        else:
            found = resolve(self.session, query)
            if found.version is not None:
                model, v = found.version
                hits.append(WhereHit("version", f"{model.name}@{v.number}", "identity"))
                version_ids.append(v.id)
            if found.dataset is not None:
                hits.append(WhereHit("dataset", f"{found.dataset.name}@{found.dataset.number}", "identity"))
                dataset_ids.append(found.dataset.id)
            if found.artifact is not None:
                self._artifact_hits(found.artifact, hits)
            if found.release is not None:
                self._release_hits([found.release], hits)
        for ds_id in dataset_ids:
            for e in self._edges(LineageRow.parent_dataset_id == ds_id):
                hits.append(WhereHit("descendant", self._link(e, up=False).name, "trained on it"))
                version_ids.append(e.child_version_id)
        self._descendants(version_ids, hits)
        ids = list(dict.fromkeys(version_ids))
        if ids:
            self._release_hits(list(self.session.scalars(select(ReleaseRow).where(ReleaseRow.version_id.in_(ids))
                                                         .order_by(ReleaseRow.id))), hits)
        return list(dict.fromkeys(hits))  # WhereHit is frozen, hence hashable: first occurrence wins

    # -- helpers --------------------------------------------------------------------------------------------
    def _digest_hits(self, digest: str, whole: bool, hits: list[WhereHit], version_ids: list[int],
                     dataset_ids: list[int]) -> None:
        """Versions, files, datasets, artifacts and evidence whose digest is (or starts with) ``digest``."""
        def test(column: Any) -> Any:
            return column == digest if whole else column.startswith(digest)

        s = self.session
        for r in s.execute(select(VersionRow.id, ModelRow.name, VersionRow.number)
                           .join(ModelRow, ModelRow.id == VersionRow.model_id)
                           .where(test(VersionRow.identity)).order_by(VersionRow.id)):
            hits.append(WhereHit("version", f"{r.name}@{r.number}", "identity"))
            version_ids.append(r.id)
        for f in s.execute(select(VersionRow.id, ModelRow.name, VersionRow.number, VersionFileRow.path)
                           .join(VersionRow, VersionRow.id == VersionFileRow.version_id)
                           .join(ModelRow, ModelRow.id == VersionRow.model_id)
                           .where(test(VersionFileRow.digest)).order_by(VersionFileRow.id)):
            hits.append(WhereHit("version", f"{f.name}@{f.number}", f"contains {f.path}"))
            version_ids.append(f.id)
        for d in s.scalars(select(DatasetRow).where(test(DatasetRow.identity)).order_by(DatasetRow.id)):
            hits.append(WhereHit("dataset", f"{d.name}@{d.number}", "identity"))
            dataset_ids.append(d.id)
        for a in s.scalars(select(ArtifactRow).where(test(ArtifactRow.digest)).order_by(ArtifactRow.id)):
            self._artifact_hits(a, hits)
        for e in s.scalars(select(EvidenceRow).where(test(EvidenceRow.digest)).order_by(EvidenceRow.id)):
            hits.append(WhereHit("evidence", self.subject(e.subject_kind, e.subject_id), f"cites {e.name} as {e.kind}"))

    def _artifact_hits(self, a: ArtifactRow, hits: list[WhereHit]) -> None:
        """An artifact and the releases that include it."""
        hits.append(WhereHit("artifact", f"{a.name}@{a.number}", f"{a.kind} content"))
        for name in self.session.scalars(select(ReleaseRow.name).join(
                ReleaseArtifactRow, ReleaseArtifactRow.release_id == ReleaseRow.id)
                .where(ReleaseArtifactRow.artifact_id == a.id).order_by(ReleaseRow.id)):
            hits.append(WhereHit("release", name, f"includes {a.kind} {a.name}@{a.number}"))

    def _edges(self, condition: Any) -> list[LineageRow]:
        return list(self.session.scalars(select(LineageRow).where(condition).order_by(LineageRow.id)))

    def _link(self, edge: LineageRow, *, up: bool) -> LineageLink:
        if not up:
            return LineageLink("model", self.version_ref(edge.child_version_id), edge.relation, True, edge.source)
        if edge.parent_version_id is not None:
            return LineageLink("model", self.version_ref(edge.parent_version_id), edge.relation, True, edge.source)
        if edge.parent_dataset_id is not None:
            ref = self.dataset_ref(edge.parent_dataset_id)
            if ref is not None:
                return LineageLink("dataset", ref, edge.relation, True, edge.source)
        return LineageLink(edge.parent_kind, edge.parent_name, edge.relation, False, edge.source)

    def _descendants(self, roots: list[int], hits: list[WhereHit]) -> None:
        frontier, seen, depth = list(dict.fromkeys(roots)), set(roots), 0
        while frontier and depth < MAX_LINEAGE_DEPTH:
            edges = self._edges(LineageRow.parent_version_id.in_(frontier))
            frontier = []
            for e in edges:
                assert e.parent_version_id is not None  # the condition above
                hits.append(WhereHit("descendant", self.version_ref(e.child_version_id),
                                     f"{e.relation} of {self.version_ref(e.parent_version_id)}"))
                if e.child_version_id not in seen:
                    seen.add(e.child_version_id)
                    frontier.append(e.child_version_id)
                    roots.append(e.child_version_id)
            depth += 1

    def _release_hits(self, releases: list[ReleaseRow], hits: list[WhereHit]) -> None:
        """Each release (with the version it uses) and where it is deployed now or was."""
        if not releases:
            return
        environments = self.session.execute(select(EnvironmentRow.id, EnvironmentRow.name)
                                            .order_by(EnvironmentRow.position)).all()
        for rel in releases:
            hits.append(WhereHit("release", rel.name, "uses " + self.version_ref(rel.version_id)))
            for env in environments:
                latest = self.session.execute(
                    select(DeploymentRow.seq, DeploymentRow.action).where(DeploymentRow.environment_id == env.id,
                                                                          DeploymentRow.release_id == rel.id)
                    .order_by(DeploymentRow.seq.desc()).limit(1)).first()
                if latest is None:
                    continue
                active_seq = self.session.scalars(
                    select(DeploymentRow.seq).where(DeploymentRow.environment_id == env.id,
                                                    DeploymentRow.action != "canary")
                    .order_by(DeploymentRow.seq.desc()).limit(1)).first() or 0
                live = latest.seq == active_seq or (latest.action == "canary" and latest.seq > active_seq)
                state = "active" if live else "since replaced"
                hits.append(WhereHit("deployment", f"{env.name}#{latest.seq}",
                                     f"{latest.action} of {rel.name} ({state})"))

    def cited_evidence(self) -> list[tuple[str, str]]:
        """(digest, "SUBJECT KIND NAME") of every evidence row, oldest first: what ``doctor`` checks."""
        return [(e.digest, f"{self.subject(e.subject_kind, e.subject_id)} {e.kind} {e.name}")
                for e in self.session.scalars(select(EvidenceRow).order_by(EvidenceRow.id))]
