"""Evidence blobs in a local folder: ``<root>/sha256/<2 hex>/<62 hex>``, written to a temp file in ``<root>/sha256``
while hashed, fsynced, renamed."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from assay.errors import InputError
from assay.evidence._interface import BlobProblem, BlobStore, StoredBlob

_PREFIX = "sha256:"


def blob_digest(data: bytes) -> str:
    """The address of ``data``: ``sha256:<hex>``."""
    return _PREFIX + hashlib.sha256(data).hexdigest()


def _hex(digest: str) -> str:
    if not digest.startswith(_PREFIX) or len(digest) != len(_PREFIX) + 64:
        raise InputError(f"not an evidence digest: {digest!r} (expected sha256:<64 hex>)")
    hexpart = digest[len(_PREFIX):]
    try:
        int(hexpart, 16)
    except ValueError:
        raise InputError(f"not an evidence digest: {digest!r} (expected sha256:<64 hex>)") from None
    return hexpart.lower()


def write_verified(blocks: Iterator[bytes], digest: str, target: Path) -> None:
    """Write ``blocks`` to the new file ``target``, hashing as it goes: InputError, and no ``target``, when they do
    not hash to ``digest`` or the file cannot be written (what every store's ``copy_out`` does with its bytes)."""
    h = hashlib.sha256()
    try:
        with open(target, "xb") as out:
            for block in blocks:
                h.update(block)
                out.write(block)
    except FileExistsError:
        raise InputError(f"{target} exists already: nothing was overwritten") from None
    except OSError as exc:
        Path(target).unlink(missing_ok=True)
        raise InputError(f"cannot restore {target}: {exc.strerror or exc}") from None
    if _PREFIX + h.hexdigest() != digest:
        Path(target).unlink(missing_ok=True)
        raise InputError(f"evidence {digest} was altered: its bytes no longer hash to their digest")


class LocalBlobStore(BlobStore):
    """A content-addressed folder. Safe for several processes: a blob appears whole (rename) or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        h = _hex(digest)
        return self.root / "sha256" / h[:2] / h[2:]

    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` durably; storing the same bytes twice writes once."""
        digest = blob_digest(data)
        target = self._path(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return StoredBlob(digest, len(data))
        return self._put_stream(io.BytesIO(data), "evidence")

    def put_file(self, path: Path) -> StoredBlob:
        """Store the file at ``path`` durably, streaming (a model file may be larger than memory)."""
        try:
            with open(path, "rb") as src:
                return self._put_stream(src, str(path))
        except OSError as exc:
            raise InputError(f"cannot keep {path} under {self.root}: {exc.strerror or exc}") from None

    def _put_stream(self, src: BinaryIO, what: str, chunk: int = 1 << 20) -> StoredBlob:
        """Copy ``src`` into a temporary file, hashing the bytes as they are written (so the address is that of the
        bytes stored, whatever the source does meanwhile), fsync it, and rename it into place (fsyncing the folder,
        so the rename survives a crash); the same bytes twice are stored once."""
        h = hashlib.sha256()
        size = 0
        staging = self.root / "sha256"
        try:
            staging.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=staging)
            try:
                with os.fdopen(fd, "wb") as out:
                    while block := src.read(chunk):
                        h.update(block)
                        out.write(block)
                        size += len(block)
                    out.flush()
                    os.fsync(out.fileno())
                digest = _PREFIX + h.hexdigest()
                target = self._path(digest)
                if target.is_file() and target.stat().st_size == size:
                    Path(tmp).unlink()
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, target)
                    dir_fd = os.open(target.parent, os.O_RDONLY)
                    try:
                        os.fsync(dir_fd)
                    finally:
                        os.close(dir_fd)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise InputError(f"cannot write {what} under {self.root}: {exc.strerror or exc}") from None
        return StoredBlob(digest, size)

    def copy_out(self, digest: str, target: Path, chunk: int = 1 << 20) -> None:
        """Write the blob ``digest`` to ``target`` (a new file), streaming, re-hashing as it goes: InputError, and no
        ``target``, when the blob is missing or no longer hashes to ``digest``."""
        try:
            src = open(self._path(digest), "rb")
        except FileNotFoundError:
            raise InputError(f"evidence {digest} is missing from {self.root}") from None
        except OSError as exc:
            raise InputError(f"cannot read evidence {digest}: {exc.strerror or exc}") from None
        with src:
            write_verified(iter(lambda: src.read(chunk), b""), digest, target)

    def get(self, digest: str) -> bytes:
        """The stored bytes; InputError when the blob is missing."""
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            raise InputError(f"evidence {digest} is missing from {self.root}") from None
        except OSError as exc:
            raise InputError(f"cannot read evidence {digest}: {exc.strerror or exc}") from None

    def get_verified(self, digest: str) -> bytes:
        """The stored bytes, re-hashed: InputError when they are missing or no longer hash to ``digest`` (for
        evidence a gate decides on, which must never be read as it was altered)."""
        data = self.get(digest)
        if blob_digest(data) != digest:
            raise InputError(f"evidence {digest} was altered: its bytes no longer hash to their digest")
        return data

    def exists(self, digest: str) -> bool:
        """Whether the blob file exists (its content is not checked)."""
        return self._path(digest).is_file()

    def size(self, digest: str) -> int:
        """The size in bytes of the blob file (its content is not checked)."""
        try:
            return self._path(digest).stat().st_size
        except OSError as exc:
            raise InputError(f"evidence {digest} is missing from {self.root}: {exc.strerror or exc}") from None

    def check(self, digest: str) -> BlobProblem | None:
        """Re-hash the blob, streaming; a missing or altered blob is a problem."""
        path = self._path(digest)
        h = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except FileNotFoundError:
            return BlobProblem(digest, "missing", f"evidence {digest} is missing")
        except OSError as exc:
            return BlobProblem(digest, "missing", f"evidence {digest} cannot be read: {exc.strerror or exc}")
        actual = _PREFIX + h.hexdigest()
        if actual != digest:
            return BlobProblem(digest, "altered", f"evidence {digest} was altered: its bytes now hash to {actual}")
        return None

    def digests(self) -> Iterator[str]:
        """Every blob file present, as digests."""
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for sub in sorted(base.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for f in sorted(sub.iterdir()):
                    if not f.name.startswith(".tmp-"):
                        yield _PREFIX + sub.name + f.name

    def leftovers(self) -> Iterator[str]:
        """Every ``.tmp-`` file under the blob folders."""
        base = self.root / "sha256"
        if base.is_dir():
            yield from (str(f) for f in sorted([*base.glob(".tmp-*"), *base.glob("*/.tmp-*")]))
