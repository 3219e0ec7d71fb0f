"""The model registry: models, immutable versions, lineage, datasets, artifacts and evidence.

Public: ``Registry`` (open with ``Registry.open(assay.config.load_settings())``), ``intake`` with
``IntakeRequest``/``IntakeResult``, ``register_dataset``, ``add_artifact``, the queries ``list_models``,
``show``, ``lineage``, ``where``, ``doctor``; the reference resolver (``parse_ref``, ``find_version``,
``find_dataset``, ``find_artifact``, ``find_release``, ``resolve``, answering with ``Record`` rows); the one
read path (``Reader`` on an ``Sql`` connection: ``Sql.connect(url)`` for the read commands, ``Sql.of(session)``
inside a transaction); and, for the release service, the mapped rows (``ModelRow``, ``VersionRow``,
``ReleaseRow`` ...) with ``now`` and ``must_get``.

References (``NAME``, ``NAME@N``, ``NAME@latest``, ``NAME@sha256:PREFIX``) resolve through ``refs``; every
read goes through ``reader`` as text SQL on the DB-API (``_sql.py`` says why: import time). The names load on
first use (PEP 562), so importing the package costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.registry._sql import Record, Sql
    from assay.registry.catalog import add_artifact, register_dataset
    from assay.registry.ingest import IntakeRequest, IntakeResult, intake
    from assay.registry.interface import NotFound, check_name
    from assay.registry.queries import doctor, lineage, list_models, show, where
    from assay.registry.reader import Reader
    from assay.registry.refs import find_artifact, find_dataset, find_release, find_version, parse_ref, resolve
    from assay.registry.schema import (
        ApprovalRow,
        ArtifactRow,
        DeploymentRow,
        EnvironmentRow,
        EvidenceRow,
        LineageRow,
        ModelRow,
        ReleaseArtifactRow,
        ReleaseRow,
        VersionRow,
        WaiverRow,
    )
    from assay.registry.store import Registry, must_get, now

_WHERE = {"Registry": "store", "now": "store", "must_get": "store", "intake": "ingest", "IntakeRequest": "ingest",
          "IntakeResult": "ingest", "register_dataset": "catalog", "add_artifact": "catalog", "list_models": "queries",
          "show": "queries", "lineage": "queries", "where": "queries", "doctor": "queries", "NotFound": "interface",
          "check_name": "interface", "Sql": "_sql", "Record": "_sql", "Reader": "reader", "parse_ref": "refs",
          "find_version": "refs", "find_dataset": "refs", "find_artifact": "refs", "find_release": "refs",
          "resolve": "refs", "ApprovalRow": "schema", "ArtifactRow": "schema", "DeploymentRow": "schema",
          "EnvironmentRow": "schema", "EvidenceRow": "schema", "LineageRow": "schema", "ModelRow": "schema",
          "ReleaseArtifactRow": "schema", "ReleaseRow": "schema", "VersionRow": "schema", "WaiverRow": "schema"}
__all__ = ["Registry", "intake", "IntakeRequest", "IntakeResult", "register_dataset", "add_artifact",
           "list_models", "show", "lineage", "where", "doctor", "NotFound", "check_name", "now", "must_get", "Sql",
           "Record", "Reader", "parse_ref", "find_version", "find_dataset", "find_artifact", "find_release",
           "resolve", "ApprovalRow", "ArtifactRow", "DeploymentRow", "EnvironmentRow", "EvidenceRow", "LineageRow",
           "ModelRow", "ReleaseArtifactRow", "ReleaseRow", "VersionRow", "WaiverRow"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'assay.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"assay.registry.{module}"), name)
    globals()[name] = value
    return value
