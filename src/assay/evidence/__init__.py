"""The content-addressed evidence store. Public: ``BlobStore``, ``LocalBlobStore`` (a folder), ``S3BlobStore`` (an
S3-compatible bucket, for workers on several hosts), ``open_store``, ``StoredBlob``, ``BlobProblem``."""

from __future__ import annotations

from assay.evidence._interface import BlobProblem, BlobStore, StoredBlob
from assay.evidence._local import LocalBlobStore, blob_digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def open_store(folder: Path, url: str | None = None) -> BlobStore:
    """The evidence store: the bucket ``url`` names (``s3://BUCKET/PREFIX``), else the folder."""
    if url:
        from assay.evidence._s3 import S3BlobStore

        return S3BlobStore(url)
    return LocalBlobStore(folder)

__all__ = ["open_store", "BlobStore", "LocalBlobStore", "StoredBlob", "BlobProblem", "blob_digest"]
