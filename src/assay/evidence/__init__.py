"""The content-addressed evidence store. Public: ``BlobStore``, ``LocalBlobStore``, ``StoredBlob``, ``BlobProblem``."""

from __future__ import annotations

from assay.evidence.interface import BlobProblem, BlobStore, StoredBlob
from assay.evidence.local import LocalBlobStore, blob_digest

__all__ = ["BlobStore", "LocalBlobStore", "StoredBlob", "BlobProblem", "blob_digest"]
