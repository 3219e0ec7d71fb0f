"""The content-addressed evidence store. Public: ``BlobStore``, ``LocalBlobStore``, ``StoredBlob``, ``BlobProblem``."""

from __future__ import annotations

from assay.evidence._interface import BlobProblem, BlobStore, StoredBlob
from assay.evidence._local import LocalBlobStore, blob_digest

__all__ = ["BlobStore", "LocalBlobStore", "StoredBlob", "BlobProblem", "blob_digest"]
