"""The registry's read-only answers: ``models``, ``show``, ``lineage``, ``where`` and what ``doctor`` cites.

One way to read: text SQL on ``_sql.Sql`` with columns by name (why not SQLAlchemy: the read commands must
answer in under 100 ms, see ``_sql.py``). The command line reads on a connection of its own
(``Sql.connect``); the Python API and the write paths on a session's (``Sql.of(session)``), so a write
transaction sees its own rows. References resolve through ``refs.py``, the same resolver either way.
"""

from __future__ import annotations

import re
from typing import Any

from assay.errors import InputError
from assay.registry._interface import (
    ARTIFACT_KINDS,
    EvidenceInfo,
    LineageLink,
    LineageTree,
    ModelSummary,
    VersionInfo,
    WhereHit,
)
from assay.registry._refs import find_artifact, find_version, resolve
from assay.registry._sql import Row, Sql

MAX_LINEAGE_DEPTH = 32
"""Ancestor and descendant chains are followed this far (a cycle cannot arise from intake, but rows can be edited)."""
_HEX = re.compile(r"(?:(sha256|blake2b|blake3):)?([0-9a-fA-F]{8,128})")
_EDGES = ("SELECT id, child_version_id, parent_kind, parent_version_id, parent_dataset_id, parent_name, relation, "
          "source FROM lineage WHERE ")


class Reader:
    """Read-only queries on one ``Sql`` connection."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    # -- names of rows --------------------------------------------------------------------------------------
    def version_ref(self, version_id: int) -> str:
        """``NAME@N`` of a version id."""
        found = self.sql.row("SELECT m.name, v.number FROM model_versions v JOIN models m ON m.id = v.model_id "
                             "WHERE v.id = :i", i=version_id)
        if found is None:
            raise InputError(f"the registry database is inconsistent: model_versions row {version_id} is missing "
                             "(was it edited by hand?)")
        return f"{found.name}@{found.number}"

    def dataset_ref(self, dataset_id: int) -> str | None:
        """``NAME@N`` of a dataset id; None when the row is gone."""
        found = self.sql.row("SELECT name, number FROM datasets WHERE id = :i", i=dataset_id)
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
        sql = ("SELECT m.name, m.owner, m.risk_tier, n.versions, n.latest, v.identity, v.status, v.license_class, "
               "v.scan_verdict, v.signature_status FROM models m "
               "LEFT JOIN (SELECT model_id, MAX(number) AS latest, COUNT(*) AS versions FROM model_versions "
               "GROUP BY model_id) n ON n.model_id = m.id "
               "LEFT JOIN model_versions v ON v.model_id = m.id AND v.number = n.latest WHERE 1 = 1")
        params: dict[str, Any] = {}
        for column, key, value in (("m.owner", "owner", owner), ("v.license_class", "license_class", license_class),
                                   ("v.status", "status", status)):
            if value:
                sql += f" AND {column} = :{key}"
                params[key] = value
        sql += " ORDER BY m.name"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [ModelSummary(name=m.name, owner=m.owner, risk_tier=m.risk_tier, versions=m.versions or 0,
                             latest=m.latest, latest_identity=m.identity, status=m.status,
                             license_class=m.license_class, scan_verdict=m.scan_verdict,
                             signature_status=m.signature_status)
                for m in self.sql.rows(sql, **params)]

    def show(self, ref: str) -> VersionInfo:
        """Everything known about ``NAME[@VERSION]``, evidence and parents included."""
        return self.version_info(*find_version(self.sql, ref))

    def version_info(self, model: Row, v: Row) -> VersionInfo:
        """The value type for a version (``refs.find_version``'s rows), with its evidence and parents."""
        evidence = tuple(EvidenceInfo(e.kind, e.name, e.digest, e.media_type, e.size) for e in self.sql.rows(
            "SELECT kind, name, digest, media_type, size FROM evidence WHERE subject_kind = 'version' "
            "AND subject_id = :i ORDER BY id", i=v.id))
        parents = tuple(self._link(e, up=True) for e in self._edges("child_version_id = :i", i=v.id))
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
        model, v = find_version(self.sql, ref)
        edges = self._edges("child_version_id = :i", i=v.id)
        up = tuple(self._link(e, up=True) for e in edges if e.parent_kind == "model")
        datasets = tuple(self._link(e, up=True) for e in edges if e.parent_kind == "dataset")
        children = self._edges("parent_version_id = :i OR (parent_version_id IS NULL AND parent_kind = 'model' "
                               "AND parent_name = :n)", i=v.id, n=model.name)
        down = tuple(self._link(e, up=False) for e in children if e.child_version_id != v.id)
        paths = []
        for e in edges:
            chain: list[str] = []
            current, seen = e.parent_version_id, {v.id}
            while current is not None and current not in seen and len(chain) < MAX_LINEAGE_DEPTH:
                seen.add(current)
                chain.append(self.version_ref(current))
                parent = self.sql.row("SELECT parent_version_id FROM lineage WHERE child_version_id = :i "
                                      "AND parent_version_id IS NOT NULL ORDER BY id LIMIT 1", i=current)
                current = parent.parent_version_id if parent is not None else None
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
        elif query.partition(":")[0] in ARTIFACT_KINDS:  # KIND:NAME@VERSION, as release create takes it
            self._artifact_hits(find_artifact(self.sql, query), hits)
        else:
            found = resolve(self.sql, query)
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
            for e in self._edges("parent_dataset_id = :i", i=ds_id):
                hits.append(WhereHit("descendant", self._link(e, up=False).name, "trained on it"))
                version_ids.append(e.child_version_id)
        self._descendants(version_ids, hits)
        ids = list(dict.fromkeys(version_ids))
        if ids:
            marks, params = _in(ids)
            self._release_hits(self.releases_using(marks, params), hits)
        return list(dict.fromkeys(hits))  # WhereHit is frozen, hence hashable: first occurrence wins

    # -- helpers --------------------------------------------------------------------------------------------
    def _digest_hits(self, digest: str, whole: bool, hits: list[WhereHit], version_ids: list[int],
                     dataset_ids: list[int]) -> None:
        """Versions, files, datasets, artifacts and evidence whose digest is (or starts with) ``digest``."""
        test = "= :d" if whole else "LIKE :d"
        d = digest if whole else digest + "%"
        rows = self.sql.rows
        for r in rows("SELECT v.id, m.name, v.number FROM model_versions v JOIN models m ON m.id = v.model_id "
                      f"WHERE v.identity {test} ORDER BY v.id", d=d):
            hits.append(WhereHit("version", f"{r.name}@{r.number}", "identity"))
            version_ids.append(r.id)
        for f in rows("SELECT v.id, m.name, v.number, f.path FROM version_files f JOIN model_versions v "
                      "ON v.id = f.version_id JOIN models m ON m.id = v.model_id "
                      f"WHERE f.digest {test} ORDER BY f.id", d=d):
            hits.append(WhereHit("version", f"{f.name}@{f.number}", f"contains {f.path}"))
            version_ids.append(f.id)
        for ds in rows(f"SELECT id, name, number FROM datasets WHERE identity {test} ORDER BY id", d=d):
            hits.append(WhereHit("dataset", f"{ds.name}@{ds.number}", "identity"))
            dataset_ids.append(ds.id)
        for a in rows(f"SELECT id, name, number, kind FROM artifacts WHERE digest {test} ORDER BY id", d=d):
            self._artifact_hits(a, hits)
        for e in rows(f"SELECT subject_kind, subject_id, kind, name FROM evidence WHERE digest {test} ORDER BY id",
                      d=d):
            hits.append(WhereHit("evidence", self.subject(e.subject_kind, e.subject_id), f"cites {e.name} as {e.kind}"))

    def _artifact_hits(self, a: Row, hits: list[WhereHit]) -> None:
        """An artifact and the releases that include it."""
        hits.append(WhereHit("artifact", f"{a.name}@{a.number}", f"{a.kind} content"))
        releases = self.sql.rows("SELECT r.id, r.name, r.version_id FROM releases r JOIN release_artifacts ra "
                                 "ON ra.release_id = r.id WHERE ra.artifact_id = :a ORDER BY r.id", a=a.id)
        for r in releases:
            hits.append(WhereHit("release", r.name, f"includes {a.kind} {a.name}@{a.number}"))
        self._release_hits(releases, hits)

    def _edges(self, condition: str, **params: Any) -> list[Row]:
        """Lineage rows matching ``condition``, oldest first."""
        return self.sql.rows(_EDGES + condition + " ORDER BY id", **params)

    def _link(self, edge: Row, *, up: bool) -> LineageLink:
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
            marks, params = _in(frontier)
            edges = self._edges(f"parent_version_id IN ({marks})", **params)
            frontier = []
            for e in edges:
                hits.append(WhereHit("descendant", self.version_ref(e.child_version_id),
                                     f"{e.relation} of {self.version_ref(e.parent_version_id)}"))
                if e.child_version_id not in seen:
                    seen.add(e.child_version_id)
                    frontier.append(e.child_version_id)
                    roots.append(e.child_version_id)
            depth += 1

    def _release_hits(self, releases: list[Row], hits: list[WhereHit]) -> None:
        """Each release (with the version it uses) and where it is deployed now or was."""
        if not releases:
            return
        for rel in releases:
            hits.append(WhereHit("release", rel.name, "uses " + " + ".join(self.release_models(rel))))
            hits += [WhereHit("deployment", f"{d['environment']}#{d['seq']}",
                              f"{d['action']} of {rel.name} ({d['state']})") for d in self.deployments_of(rel.id)]

    def releases_using(self, marks: str, params: dict[str, int]) -> list[Row]:
        """The releases (id, name, version_id) holding any of the versions ``marks`` binds, oldest first."""
        return self.sql.rows(f"SELECT id, name, version_id FROM releases WHERE version_id IN ({marks}) OR id IN "
                             f"(SELECT release_id FROM release_models WHERE version_id IN ({marks})) ORDER BY id",
                             **params)

    def release_models(self, release: Row) -> list[str]:
        """``NAME@N`` of every model version of ``release`` (a row with ``id`` and ``version_id``), in order."""
        rows = self.sql.rows("SELECT version_id FROM release_models WHERE release_id = :r ORDER BY position",
                             r=release.id)
        return [self.version_ref(r.version_id) for r in rows] or [self.version_ref(release.version_id)]

    def deployments_of(self, release_id: int) -> list[dict[str, Any]]:
        """Per environment, the newest deployment of the release: ``environment``, ``seq``, ``action`` and
        ``state`` (``active``, ``canary`` or ``since replaced``)."""
        out = []
        for env in self.sql.rows("SELECT id, name FROM environments ORDER BY position"):
            latest = self.sql.row("SELECT seq, action FROM deployments WHERE environment_id = :e "
                                  "AND release_id = :r ORDER BY seq DESC LIMIT 1", e=env.id, r=release_id)
            if latest is None:
                continue
            active = self.sql.row("SELECT seq FROM deployments WHERE environment_id = :e "
                                  "AND action <> 'canary' ORDER BY seq DESC LIMIT 1", e=env.id)
            active_seq = active.seq if active is not None else 0
            state = ("active" if latest.seq == active_seq else
                     "canary" if latest.action == "canary" and latest.seq > active_seq else "since replaced")
            out.append({"environment": env.name, "seq": latest.seq, "action": latest.action, "state": state})
        return out

    def cited_blobs(self) -> list[tuple[str, str]]:
        """(digest, who cites it) of every blob any row or audit entry cites, oldest first: what ``doctor`` checks.
        Evidence rows, artifact contents, dataset manifests, release parameters, the evidence of every deployment
        and the blobs audit entries name (registered policies, log keys)."""
        from assay.audit import cited_blobs

        found = [(e.digest, f"{self.subject(e.subject_kind, e.subject_id)} {e.kind} {e.name}")
                 for e in self.sql.rows("SELECT subject_kind, subject_id, kind, name, digest FROM evidence ORDER BY id")]
        found += [(a.digest, f"artifact {a.name}@{a.number} ({a.kind})")
                  for a in self.sql.rows("SELECT name, number, kind, digest FROM artifacts ORDER BY id")]
        found += [(d.manifest_digest, f"dataset {d.name}@{d.number} manifest")
                  for d in self.sql.rows("SELECT name, number, manifest_digest FROM datasets ORDER BY id")]
        found += [(r.params_digest, f"release {r.name} params")
                  for r in self.sql.rows("SELECT name, params_digest FROM releases WHERE params_digest IS NOT NULL "
                                         "ORDER BY id")]
        for d in self.sql.rows("SELECT e.name AS env, d.seq, d.evidence_digests FROM deployments d "
                               "JOIN environments e ON e.id = d.environment_id ORDER BY d.id"):
            digests = d.evidence_digests if isinstance(d.evidence_digests, list) else []  # decoded by Sql.rows
            found += [(x, f"deployment {d.env}#{d.seq} " + ("evidence" if i == 0 else "relied-on evidence"))
                      for i, x in enumerate(digests) if isinstance(x, str)]
        for entry in self.sql.rows("SELECT idx, kind, body FROM audit_entries WHERE body LIKE :b ORDER BY idx",
                                   b='%"blobs"%'):
            found += [(x, f"audit entry {entry.idx} ({entry.kind})") for x in cited_blobs(entry.body)]
        return found


def _in(values: list[int]) -> tuple[str, dict[str, int]]:
    """``:v0, :v1, ...`` and their parameters, for ``IN (...)``."""
    return ", ".join(f":v{i}" for i in range(len(values))), {f"v{i}": v for i, v in enumerate(values)}
