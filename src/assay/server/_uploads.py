"""Uploads: a caller's file or folder, sent as an uncompressed tar stream, unpacked once into the server's home and
used by one operation of the same caller, then deleted.

Unpacking uses tarfile's ``data`` filter (no absolute paths, no ``..``, no links out of the folder, no devices);
the stream is uncompressed, so what lands on disk is bounded by what was sent (``max_upload_bytes``), and the
number of members by ``max_upload_files``.
"""

from __future__ import annotations

import secrets
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from assay.errors import AssayError, Forbidden, UsageError

PREFIX = "upload:"
KEEP_SECONDS = 3600
"""An upload not used, or a download not fetched, within this long is deleted (when the next one arrives)."""


def _purge(root: Path, seconds: float = KEEP_SECONDS) -> None:
    """Delete what was left under ``root`` longer than ``seconds`` ago: abandoned uploads and downloads."""
    import time

    if not root.is_dir():
        return
    cutoff = time.time() - seconds
    for entry in root.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        except OSError:
            continue


class TooLarge(AssayError):
    """A request body over its limit (HTTP 413)."""

    http_status = 413


class UploadStore:
    """Uploads under ``root``, each in a folder named by a random id, with the uploader's name beside it."""

    def __init__(self, root: Path, max_bytes: int, max_files: int) -> None:
        self.root = root
        self.max_bytes, self.max_files = max_bytes, max_files

    def spool(self) -> IO[bytes]:
        """A temporary file in the upload folder for a stream as it arrives (deleted when closed)."""
        self.root.mkdir(parents=True, exist_ok=True)
        _purge(self.root)
        return tempfile.TemporaryFile(dir=self.root)

    def check_size(self, size: int) -> None:
        """TooLarge once an upload passes ``max_upload_bytes``."""
        if size > self.max_bytes:
            raise TooLarge(f"the upload is larger than max_upload_bytes ({self.max_bytes} bytes)")

    def unpack(self, spool: IO[bytes], owner: str, shown: str) -> str:
        """Unpack the tar stream in ``spool`` for ``owner`` and return its name (``upload:ID``)."""
        upload_id = secrets.token_hex(16)
        folder = self.root / upload_id
        spool.seek(0)
        try:
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                members = tar.getmembers()
                if len(members) > self.max_files:
                    raise UsageError(f"the upload holds more than max_upload_files ({self.max_files}) entries")
                if len({m.name.split("/", 1)[0] for m in members}) != 1:
                    raise UsageError("an upload is one file or one folder")
                folder.mkdir()
                tar.extractall(folder / "data", filter="data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise UsageError(f"the upload is not a readable tar stream: {exc}") from None
        (folder / "owner").write_text(owner, encoding="utf-8")
        (folder / "shown").write_text(shown[:1000], encoding="utf-8")
        return PREFIX + upload_id

    def resolve(self, name: str, owner: str) -> tuple[Path, str]:
        """The unpacked path of upload ``name`` and how the caller named it; only its uploader may use it."""
        upload_id = name[len(PREFIX):]
        if not name.startswith(PREFIX) or not upload_id.isalnum() or len(upload_id) != 32:
            raise UsageError(f"{name!r} is not an upload: a server reads only files sent to it (POST /api/v1/uploads)")
        folder = self.root / upload_id
        try:
            if (folder / "owner").read_text(encoding="utf-8") != owner:
                raise Forbidden(f"{name} was uploaded by someone else")
            (top,) = list((folder / "data").iterdir())
            return top, (folder / "shown").read_text(encoding="utf-8")
        except (OSError, ValueError):
            raise UsageError(f"no upload {name} (each upload serves one call)") from None

    def discard(self, name: str) -> None:
        """Delete an upload once its call is done."""
        upload_id = name[len(PREFIX):]
        if upload_id.isalnum():
            shutil.rmtree(self.root / upload_id, ignore_errors=True)


class DownloadStore:
    """What an operation wrote for a caller (``Operation.downloads``), kept under ``root`` until that caller fetches
    it once: a file as it is, a folder as an uncompressed tar stream."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def place(self, owner: str, name: str) -> tuple[str, Path]:
        """A new download for ``owner``: its id and where the operation writes (``name``'s last part)."""
        _purge(self.root)
        download_id = secrets.token_hex(16)
        folder = self.root / download_id
        (folder / "data").mkdir(parents=True)
        (folder / "owner").write_text(owner, encoding="utf-8")
        return download_id, folder / "data" / (Path(name).name or "output")

    def take(self, download_id: str, owner: str) -> tuple[Path, bool]:
        """(the path written, whether it is a folder) of download ``download_id``, only for its owner."""
        folder = self.root / download_id
        if not download_id.isalnum() or len(download_id) != 32 or not folder.is_dir():
            raise UsageError(f"no download {download_id!r} (each is fetched once)")
        if (folder / "owner").read_text(encoding="utf-8") != owner:
            raise Forbidden("that download is someone else's")
        written = list((folder / "data").iterdir())
        if len(written) != 1:
            raise UsageError(f"download {download_id} holds nothing")
        return written[0], written[0].is_dir()

    def discard(self, download_id: str) -> None:
        """Delete a download once sent (or when its call failed)."""
        if download_id.isalnum():
            shutil.rmtree(self.root / download_id, ignore_errors=True)
