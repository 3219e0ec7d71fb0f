"""The registry's read-only answers, straight over the DB-API: ``models``, ``show``, ``lineage``, ``where``.

Why not SQLAlchemy here: these are the commands typed during an incident, and they must answer in well
under 100 ms as commands. Importing SQLAlchemy and mapping the schema costs about 200 ms before the
first query runs; the standard library's ``sqlite3`` (or ``psycopg2``) answers these few indexed SELECTs
in milliseconds. Writes, transactions and migrations stay on SQLAlchemy (``store.py``, ``ingest.py``).
The SQL is the common subset of both dialects; parameters are written ``:name`` and rewritten for psycopg2.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from assay.errors import ConfigError, InputError
from assay.registry.interface import (SCHEMA_REVISION, EvidenceInfo, LineageLink, LineageTree, ModelSummary, NotFound,
                                      VersionInfo, WhereHit, parse_ref)

MAX_LINEAGE_DEPTH = 32
"""Ancestor and descendant chains are followed this far (a cycle cannot arise from intake, but rows can be edited)."""
_HEX = re.compile(r"(?:(sha256|blake2b|blake3):)?([0-9a-fA-F]{8,128})")
_PARAM = re.compile(r":(\w+)")
_VERSION_COLUMNS = ("v.id, v.number, v.identity, v.status, v.status_reasons, v.source_url, v.publisher, v.revision, "
                    "v.formats, v.file_count, v.total_bytes, v.license_expression, v.license_class, "
                    "v.license_obligations, v.signature_status, v.signer, v.scan_verdict, v.scan_counts, v.card, "
                    "v.missing, v.created_by, v.created_at, m.name, m.owner, m.risk_tier, m.intended_use, "
                    "m.data_sensitivity")


class Reader:
    """Read-only queries over one DB-API connection (``sqlite3`` or ``psycopg2``)."""

    def __init__(self, connection: Any, dialect: str, error: type[Exception]) -> None:
        self.connection = connection
        self.dialect = dialect
        self.error = error  # the driver's base exception class

    def revision(self) -> str | None:
        """The schema's Alembic revision; None for a database without the registry's tables."""
        try:
            found = self.row("SELECT version_num FROM alembic_version")
        except InputError:
            return None
        return found[0] if found else None

    # -- plumbing -------------------------------------------------------------------------------------------
    def rows(self, sql: str, **params: Any) -> list[tuple]:
        """Every row of ``sql`` with ``:name`` parameters."""
        if self.dialect == "postgresql":
            sql = _PARAM.sub(r"%(\1)s", sql)
        try:
            cursor = self.connection.cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except self.error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cannot read the registry database: {reason}") from None

    def row(self, sql: str, **params: Any) -> tuple | None:
        """The first row of ``sql``, or None."""
        found = self.rows(sql, **params)
        return found[0] if found else None

    def _json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, (str, bytes)) else value  # psycopg2 decodes JSON itself

    def _time(self, value: Any) -> datetime:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    # -- resolving references -------------------------------------------------------------------------------
    def find_version(self, ref: str) -> tuple:
        """The version row (``_VERSION_COLUMNS``) of ``NAME`` (newest accepted, else newest), ``NAME@N`` or
        ``NAME@sha256:PREFIX``."""
        r = parse_ref(ref)
        if self.row("SELECT id FROM models WHERE name = :n", n=r.name) is None:
            raise NotFound(f"no model named {r.name!r} in the registry")
        base = f"SELECT {_VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = :n"
        if r.number is not None:
            found = self.rows(base + " AND v.number = :k", n=r.name, k=r.number)
        elif r.prefix is not None:
            found = self.rows(base + " AND v.identity LIKE :p", n=r.name, p=r.prefix + "%")
            if len(found) > 1:
                raise NotFound(f"{ref!r} is ambiguous: {len(found)} versions start with it")
        else:
            found = self.rows(base + " ORDER BY (CASE WHEN v.status = 'accepted' THEN 0 ELSE 1 END), v.number DESC "
                              "LIMIT 1", n=r.name)
        if not found:
            raise NotFound(f"no version {ref!r} in the registry")
        return found[0]

    def find_dataset(self, ref: str) -> tuple[int, str, int]:
        """(id, name, number) of ``NAME`` (newest), ``NAME@N`` or ``NAME@sha256:PREFIX``."""
        r = parse_ref(ref)
        base = "SELECT id, name, number FROM datasets WHERE name = :n"
        if r.number is not None:
            found = self.row(base + " AND number = :k", n=r.name, k=r.number)
        elif r.prefix is not None:
            found = self.row(base + " AND identity LIKE :p ORDER BY number LIMIT 1", n=r.name, p=r.prefix + "%")
        else:
            found = self.row(base + " ORDER BY number DESC LIMIT 1", n=r.name)
        if found is None:
            raise NotFound(f"no dataset {ref!r} in the registry (register it with `assay dataset register`)")
        return found

    def version_ref(self, version_id: int) -> str:
        """``NAME@N`` of a version id."""
        found = self.row("SELECT m.name, v.number FROM model_versions v JOIN models m ON m.id = v.model_id "
                         "WHERE v.id = :i", i=version_id)
        if found is None:
            raise InputError(f"the registry database is inconsistent: model_versions row {version_id} is missing "
                             "(was it edited by hand?)")
        return f"{found[0]}@{found[1]}"

    # -- answers --------------------------------------------------------------------------------------------
    def list_models(self, *, owner: str | None = None, license_class: str | None = None, status: str | None = None,
                    limit: int | None = None) -> list[ModelSummary]:
        """Every model with its newest version; the filters apply to the owner and the newest version."""
        sql = ("SELECT m.name, m.owner, m.risk_tier, l.c, v.number, v.identity, v.status, v.license_class, "
               "v.scan_verdict, v.signature_status FROM models m "
               "LEFT JOIN (SELECT model_id, MAX(number) AS n, COUNT(*) AS c FROM model_versions GROUP BY model_id) l "
               "ON l.model_id = m.id "
               "LEFT JOIN model_versions v ON v.model_id = m.id AND v.number = l.n WHERE 1 = 1")
        params: dict[str, Any] = {}
        for column, value in (("m.owner", owner), ("v.license_class", license_class), ("v.status", status)):
            if value:
                key = f"p{len(params)}"
                sql += f" AND {column} = :{key}"
                params[key] = value
        sql += " ORDER BY m.name"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [ModelSummary(name, owner_, tier, count or 0, *rest)
                for name, owner_, tier, count, *rest in self.rows(sql, **params)]

    def show(self, ref: str) -> VersionInfo:
        """Everything known about ``NAME[@VERSION]``, evidence and parents included."""
        return self.version_info(self.find_version(ref))

    def version_info(self, v: tuple) -> VersionInfo:
        """The value type for a ``find_version`` row, with its evidence and parents."""
        evidence = tuple(EvidenceInfo(*e) for e in self.rows(
            "SELECT kind, name, digest, media_type, size FROM evidence WHERE subject_kind = 'version' "
            "AND subject_id = :i ORDER BY id", i=v[0]))
        parents = tuple(self._link(e, up=True) for e in self._edges("child_version_id = :i", i=v[0]))
        j = self._json
        return VersionInfo(
            model=v[22], number=v[1], identity=v[2], status=v[3], status_reasons=tuple(j(v[4])), owner=v[23],
            risk_tier=v[24], intended_use=v[25], data_sensitivity=v[26], source_url=v[5], publisher=v[6],
            revision=v[7], formats=tuple(j(v[8])), file_count=v[9], total_bytes=v[10], license_expression=v[11],
            license_class=v[12], license_obligations=tuple(j(v[13])), signature_status=v[14], signer=v[15],
            scan_verdict=v[16], scan_counts=dict(j(v[17])), card=dict(j(v[18])), missing=tuple(j(v[19])),
            created_by=v[20], created_at=self._time(v[21]), evidence=evidence, parents=parents)

    def lineage(self, ref: str) -> LineageTree:
        """Base models up (recursively through registered versions), derived versions down, datasets."""
        v = self.find_version(ref)
        edges = self._edges("child_version_id = :i", i=v[0])
        up = tuple(self._link(e, up=True) for e in edges if e[1] == "model")
        datasets = tuple(self._link(e, up=True) for e in edges if e[1] == "dataset")
        children = self._edges("parent_version_id = :i OR (parent_version_id IS NULL AND parent_kind = 'model' "
                               "AND parent_name = :n)", i=v[0], n=v[22])
        down = tuple(self._link(e, up=False) for e in children if e[0] != v[0])
        paths = []
        for e in edges:
            chain: list[str] = []
            current, seen = e[2], {v[0]}
            while current is not None and current not in seen and len(chain) < MAX_LINEAGE_DEPTH:
                seen.add(current)
                chain.append(self.version_ref(current))
                parent = self.row("SELECT parent_version_id FROM lineage WHERE child_version_id = :i "
                                  "AND parent_version_id IS NOT NULL ORDER BY id LIMIT 1", i=current)
                current = parent[0] if parent else None
            if chain:
                paths.append(tuple(chain))
        return LineageTree(f"{v[22]}@{v[1]}", v[2], up, datasets, down, tuple(paths))

    def where(self, query: str) -> list[WhereHit]:
        """Every version, dataset, artifact and evidence blob that is, contains or derives from ``query``:
        a digest (``sha256:<hex>``, or a bare hex prefix of 8+ digits) or ``NAME@VERSION``."""
        hits: list[WhereHit] = []
        version_ids: list[int] = []
        dataset_ids: list[int] = []
        match = _HEX.fullmatch(query)
        if match:
            digest = f"{match.group(1) or 'sha256'}:{match.group(2).lower()}"
            test = "= :d" if len(match.group(2)) == 64 else "LIKE :d"
            d = digest if len(match.group(2)) == 64 else digest + "%"
            for vid, name, number in self.rows("SELECT v.id, m.name, v.number FROM model_versions v JOIN models m "
                                               f"ON m.id = v.model_id WHERE v.identity {test} ORDER BY v.id", d=d):
                hits.append(WhereHit("version", f"{name}@{number}", "identity"))
                version_ids.append(vid)
            for vid, name, number, path in self.rows(
                    "SELECT v.id, m.name, v.number, f.path FROM version_files f JOIN model_versions v ON "
                    f"v.id = f.version_id JOIN models m ON m.id = v.model_id WHERE f.digest {test} ORDER BY f.id", d=d):
                hits.append(WhereHit("version", f"{name}@{number}", f"contains {path}"))
                version_ids.append(vid)
            for did, name, number in self.rows(f"SELECT id, name, number FROM datasets WHERE identity {test} "
                                               "ORDER BY id", d=d):
                hits.append(WhereHit("dataset", f"{name}@{number}", "identity"))
                dataset_ids.append(did)
            for aid, name, number, kind in self.rows(f"SELECT id, name, number, kind FROM artifacts WHERE digest "
                                                     f"{test} ORDER BY id", d=d):
                hits.append(WhereHit("artifact", f"{name}@{number}", f"{kind} content"))
                for (release,) in self.rows("SELECT r.name FROM releases r JOIN release_artifacts ra ON "
                                            "ra.release_id = r.id WHERE ra.artifact_id = :a ORDER BY r.id", a=aid):
                    hits.append(WhereHit("release", release, f"includes {kind} {name}@{number}"))
            for subject_kind, subject_id, kind, name in self.rows(
                    f"SELECT subject_kind, subject_id, kind, name FROM evidence WHERE digest {test} ORDER BY id", d=d):
                hits.append(WhereHit("evidence", self.subject(subject_kind, subject_id), f"cites {name} as {kind}"))
        elif "@" in query and self.row("SELECT id FROM models WHERE name = :n", n=query.partition("@")[0]) is None:
            did, name, number = self.find_dataset(query)
            hits.append(WhereHit("dataset", f"{name}@{number}", "identity"))
            dataset_ids.append(did)
        else:
            v = self.find_version(query)
            hits.append(WhereHit("version", f"{v[22]}@{v[1]}", "identity"))
            version_ids.append(v[0])
        for ds_id in dataset_ids:
            for e in self._edges("parent_dataset_id = :i", i=ds_id):
                hits.append(WhereHit("descendant", self._link(e, up=False).name, "trained on it"))
                version_ids.append(e[0])
        self._descendants(version_ids, hits)
        self._releases(version_ids, hits)
        return list(dict.fromkeys(hits))  # WhereHit is frozen, hence hashable: first occurrence wins

    # -- helpers --------------------------------------------------------------------------------------------
    def _edges(self, condition: str, **params: Any) -> list[tuple]:
        """Lineage rows: (child_version_id, parent_kind, parent_version_id, parent_dataset_id, parent_name,
        relation, source)."""
        return self.rows("SELECT child_version_id, parent_kind, parent_version_id, parent_dataset_id, parent_name, "
                         f"relation, source FROM lineage WHERE {condition} ORDER BY id", **params)

    def _link(self, edge: tuple, *, up: bool) -> LineageLink:
        child, kind, parent_version, parent_dataset, parent_name, relation, source = edge
        if not up:
            return LineageLink("model", self.version_ref(child), relation, True, source)
        if parent_version is not None:
            return LineageLink("model", self.version_ref(parent_version), relation, True, source)
        if parent_dataset is not None:
            found = self.row("SELECT name, number FROM datasets WHERE id = :i", i=parent_dataset)
            if found is not None:
                return LineageLink("dataset", f"{found[0]}@{found[1]}", relation, True, source)
        return LineageLink(kind, parent_name, relation, False, source)

    def subject(self, kind: str, subject_id: int) -> str:
        """``NAME@N`` of an evidence subject (version or dataset), else ``kind:id``."""
        if kind == "version":
            return self.version_ref(subject_id)
        if kind == "dataset":
            found = self.row("SELECT name, number FROM datasets WHERE id = :i", i=subject_id)
            if found is not None:
                return f"{found[0]}@{found[1]}"
        return f"{kind}:{subject_id}"

    def _descendants(self, roots: list[int], hits: list[WhereHit]) -> None:
        frontier, seen, depth = list(dict.fromkeys(roots)), set(roots), 0
        while frontier and depth < MAX_LINEAGE_DEPTH:
            marks = ", ".join(f":v{i}" for i in range(len(frontier)))
            edges = self._edges(f"parent_version_id IN ({marks})", **{f"v{i}": v for i, v in enumerate(frontier)})
            frontier = []
            for e in edges:
                hits.append(WhereHit("descendant", self.version_ref(e[0]), f"{e[5]} of {self.version_ref(e[2])}"))
                if e[0] not in seen:
                    seen.add(e[0])
                    frontier.append(e[0])
                    roots.append(e[0])
            depth += 1

    def _releases(self, version_ids: list[int], hits: list[WhereHit]) -> None:
        """Releases of the versions found (directly or as descendants), and where each is deployed now."""
        ids = list(dict.fromkeys(version_ids))
        if not ids:
            return
        marks = ", ".join(f":v{i}" for i in range(len(ids)))
        releases = self.rows(f"SELECT id, name, version_id FROM releases WHERE version_id IN ({marks}) ORDER BY id",
                             **{f"v{i}": v for i, v in enumerate(ids)})
        environments = self.rows("SELECT id, name FROM environments ORDER BY position")
        for release_id, release, version_id in releases:
            hits.append(WhereHit("release", release, "uses " + self.version_ref(version_id)))
            for env_id, env in environments:
                latest = self.row("SELECT seq, action FROM deployments WHERE environment_id = :e AND release_id = :r "
                                  "ORDER BY seq DESC LIMIT 1", e=env_id, r=release_id)
                if latest is None:
                    continue
                active = self.row("SELECT seq FROM deployments WHERE environment_id = :e AND action <> 'canary' "
                                  "ORDER BY seq DESC LIMIT 1", e=env_id)
                active_seq = active[0] if active else 0
                live = latest[0] == active_seq or (latest[1] == "canary" and latest[0] > active_seq)
                state = "active" if live else "since replaced"
                hits.append(WhereHit("deployment", f"{env}#{latest[0]}", f"{latest[1]} of {release} ({state})"))


@contextlib.contextmanager
def connect(url: str) -> Iterator[Reader]:
    """A reader on the registry at ``url`` (``sqlite:///PATH`` or ``postgresql://...``).

    A database that does not exist yet or is behind the code's schema is first created or migrated the
    usual way (``db.open_engine``, SQLAlchemy and Alembic); then it is read directly.
    """
    reader = _connect(url)
    try:
        revision = reader.revision()
        if revision is not None and revision.isdigit() and int(revision) > int(SCHEMA_REVISION):
            raise InputError(f"the registry database is at schema revision {revision}, newer than this assay "
                             f"understands ({SCHEMA_REVISION}): upgrade assay")
        if revision != SCHEMA_REVISION:
            reader.connection.close()
            from assay.registry.db import open_engine

            open_engine(url).dispose()
            reader = _connect(url)
        yield reader
    finally:
        reader.connection.close()


def _connect(url: str) -> Reader:
    if url.startswith("sqlite:"):
        import os
        import sqlite3

        from assay.config import sqlite_path

        path = sqlite_path(url)
        if path is None:
            raise ConfigError("an in-memory SQLite registry (sqlite:// or sqlite:///:memory:) ends with the command "
                              "that made it: point ASSAY_DATABASE_URL at a file, sqlite:///PATH")
        if not os.path.isfile(path):  # sqlite3 would create an empty file; let open_engine create the registry
            return Reader(sqlite3.connect(":memory:"), "sqlite", sqlite3.Error)
        try:
            connection: Any = sqlite3.connect(path, timeout=60)
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the registry database {path}: {exc}") from None
        return Reader(connection, "sqlite", sqlite3.Error)
    if url.startswith("postgresql"):
        import psycopg2

        from assay.config import postgres_url

        try:
            connection = psycopg2.connect(postgres_url(url))
        except psycopg2.Error as exc:
            raise InputError(f"cannot open the registry database: {str(exc).strip().splitlines()[0]}") from None
        connection.autocommit = True
        return Reader(connection, "postgresql", psycopg2.Error)
    raise ConfigError("ASSAY_DATABASE_URL must be a sqlite:/// or postgresql:// URL")


@contextlib.contextmanager
def from_engine(engine: Any) -> Iterator[Reader]:
    """A reader on a pooled DB-API connection of a SQLAlchemy ``engine`` (the Python API's path)."""
    connection = engine.raw_connection()
    try:
        yield Reader(connection, engine.dialect.name, engine.dialect.dbapi.Error)
    finally:
        connection.close()
