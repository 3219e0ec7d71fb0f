"""Model folder -> OMS manifest (files or shards), the hashing engine and the ignore rules.

Public surface: ``hash_model``, ``compute_manifest``, ``Manifest``, ``Resource``, ``Serialization``.
"""

from __future__ import annotations

from assay.manifest.engine import compute_manifest, hash_model
from assay.manifest.interface import Manifest, Resource, Serialization

__all__ = ["hash_model", "compute_manifest", "Manifest", "Resource", "Serialization"]
