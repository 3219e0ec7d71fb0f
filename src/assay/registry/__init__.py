"""The model registry: models, immutable versions, lineage, datasets, artifacts and evidence (SQLAlchemy 2).

Public: ``Registry`` (open with ``Registry.open(assay.config.load_settings())``), ``intake`` with
``IntakeRequest``/``IntakeResult``, ``register_dataset``, ``add_artifact``, and the queries ``list_models``,
``show``, ``lineage``, ``where``, ``doctor``.
"""

from __future__ import annotations

from assay.registry.catalog import add_artifact, register_dataset
from assay.registry.intake import IntakeRequest, IntakeResult, intake
from assay.registry.interface import NotFound
from assay.registry.queries import doctor, lineage, list_models, show, where
from assay.registry.store import Registry

__all__ = ["Registry", "intake", "IntakeRequest", "IntakeResult", "register_dataset", "add_artifact",
           "list_models", "show", "lineage", "where", "doctor", "NotFound"]
