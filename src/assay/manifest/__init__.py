"""Model folder -> OMS manifest (files or shards), the hashing engine and the ignore rules.

Public surface: ``hash_model``, ``compute_manifest``, ``Manifest``, ``Resource``, ``Serialization``, and what
the signing layer needs to read and write OMS statements: ``HASH_TYPES``, ``GIT_IGNORES``, ``SIGNATURE_NAME``,
``same_algorithm``, ``shard_path`` and ``relative_ignores``. Everything else here is private (``_*`` modules).
"""

from __future__ import annotations

from assay.manifest._engine import compute_manifest, hash_model
from assay.manifest._interface import (
    GIT_IGNORES,
    HASH_TYPES,
    SIGNATURE_NAME,
    Manifest,
    Resource,
    Serialization,
    same_algorithm,
    shard_path,
)
from assay.manifest._walk import relative_ignores

__all__ = ["hash_model", "compute_manifest", "Manifest", "Resource", "Serialization", "GIT_IGNORES", "HASH_TYPES",
           "SIGNATURE_NAME", "same_algorithm", "shard_path", "relative_ignores"]
