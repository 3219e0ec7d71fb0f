"""The model registry: models, immutable versions, lineage, datasets, artifacts and evidence.

Public: ``Registry`` (open with ``Registry.open(assay.config.load_settings())``), ``intake`` with
``IntakeRequest``/``IntakeResult``, ``register_dataset``, ``add_artifact``, and the queries ``list_models``,
``show``, ``lineage``, ``where``, ``doctor``.

References (``NAME``, ``NAME@N``, ``NAME@latest``, ``NAME@sha256:PREFIX``) resolve through ``refs``; every
read goes through ``reader`` on a ``Registry.snapshot()``. The names load on first use (PEP 562), so importing
the package costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.registry.catalog import add_artifact, register_dataset
    from assay.registry.ingest import IntakeRequest, IntakeResult, intake
    from assay.registry.interface import NotFound
    from assay.registry.queries import doctor, lineage, list_models, show, where
    from assay.registry.store import Registry

_WHERE = {"Registry": "store", "intake": "ingest", "IntakeRequest": "ingest", "IntakeResult": "ingest",
          "register_dataset": "catalog", "add_artifact": "catalog", "list_models": "queries", "show": "queries",
          "lineage": "queries", "where": "queries", "doctor": "queries", "NotFound": "interface"}
__all__ = ["Registry", "intake", "IntakeRequest", "IntakeResult", "register_dataset", "add_artifact",
           "list_models", "show", "lineage", "where", "doctor", "NotFound"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'assay.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"assay.registry.{module}"), name)
    globals()[name] = value
    return value
