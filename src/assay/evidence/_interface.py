"""The evidence store: content-addressed blobs (scan reports, manifests, cards, BOMs, signatures).

A blob's address is ``sha256:<hex>`` of its bytes, so the registry can cite evidence by digest and anyone
can check a blob against its citation. One implementation per backend (``local.py`` now, an object store later).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredBlob:
    """A blob as the store holds it."""

    digest: str   # "sha256:<hex>"
    size: int


@dataclass(frozen=True)
class BlobProblem:
    """A blob that is missing or whose bytes no longer match its digest."""

    digest: str
    kind: str     # "missing" | "altered"
    message: str


class BlobStore(ABC):
    """Content-addressed storage. Writes are atomic and idempotent; reads check nothing (``check`` does)."""

    @abstractmethod
    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` (if not already there) and return its address."""

    @abstractmethod
    def put_file(self, path: Path) -> StoredBlob:
        """Store the file at ``path``, streaming, and return the address of the bytes stored."""

    @abstractmethod
    def copy_out(self, digest: str, target: Path) -> None:
        """Write the blob to the new file ``target``, streaming, checking its digest; InputError if it does not match."""

    @abstractmethod
    def get(self, digest: str) -> bytes:
        """The bytes stored under ``digest``; InputError when there are none."""

    @abstractmethod
    def get_verified(self, digest: str) -> bytes:
        """The bytes stored under ``digest``, re-hashed; InputError when missing or altered."""

    @abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether a blob is stored under ``digest``."""

    @abstractmethod
    def size(self, digest: str) -> int:
        """The size in bytes of the blob stored under ``digest`` (InputError when there is none)."""

    @abstractmethod
    def check(self, digest: str) -> BlobProblem | None:
        """Re-hash the stored blob: None when it is present and intact."""

    @abstractmethod
    def digests(self) -> Iterator[str]:
        """Every digest stored."""

    @abstractmethod
    def leftovers(self) -> Iterator[str]:
        """Where half-written temporary files are (a writer killed between writing and renaming leaves one)."""
