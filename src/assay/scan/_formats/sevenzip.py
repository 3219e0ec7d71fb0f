"""7z archives (the nullifAI class: PyTorch files wrapped in 7z so scanners skip them).
Read with py7zr; each member is decompressed into a bounded spooled file and scanned by content."""

from __future__ import annotations

import tempfile

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.archive_checks import check_member_name
from assay.scan._formats.interface import FormatScanner
from assay.scan._limits import LimitExceeded
from assay.scan._source import Blob, BlobIO, FileObjectBlob


class _SpoolWriter:
    """py7zr writer: a spooled temporary file that refuses to grow past a limit."""

    def __init__(self, limit: int):
        self._file = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        self._limit = limit
        self._size = 0

    def write(self, data: bytes) -> int:
        self._size += len(data)
        if self._size > self._limit:
            raise LimitExceeded("max_decompressed_bytes", f"7z member exceeds max_decompressed_bytes={self._limit}")
        return self._file.write(data)

    def read(self, size: int | None = None) -> bytes:
        return self._file.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """py7zr closes writers when a member is done; the spool must outlive that."""

    def size(self) -> int:
        return self._size

    @property
    def file(self) -> object:
        """The spooled file holding the member."""
        return self._file


class SevenZipScanner(FormatScanner):
    """7z archives."""

    formats = ("7z",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        try:
            import py7zr
            from py7zr.io import WriterFactory
        except ImportError:
            ctx.error("7z archive not scanned: install py7zr")
            return True
        writers: dict[str, _SpoolWriter] = {}
        limit = ctx.limits.max_decompressed_bytes

        class Factory(WriterFactory):
            def create(self, filename: str):  # noqa: ANN202 - py7zr's Py7zIO protocol
                writers[filename] = _SpoolWriter(limit)
                return writers[filename]

        try:
            with py7zr.SevenZipFile(BlobIO(blob), mode="r") as archive:  # type: ignore[arg-type]
                infos = archive.list()
                if len(infos) > ctx.limits.max_members:
                    raise LimitExceeded("max_members", f"more than max_members={ctx.limits.max_members} members")
                for info in infos:
                    check_member_name(info.filename, ctx, None)
                    if info.is_symlink:
                        ctx.add("AS203", Severity.HIGH, f"member {info.filename!r} is a symbolic link")
                    if info.compressed and info.uncompressed > (1 << 20) and \
                            info.uncompressed / info.compressed > ctx.limits.max_compression_ratio:
                        ctx.add("AS204", Severity.HIGH, f"member {info.filename!r} expands "
                                f"{info.uncompressed // info.compressed}x")
                archive.extractall(factory=Factory())
        except LimitExceeded:
            raise
        except Exception as exc:  # py7zr raises many types for corrupt or encrypted input
            ctx.error(f"7z archive could not be read: {type(exc).__name__}: {exc}")
            return True
        for filename, writer in sorted(writers.items()):
            ctx.child(filename).scan(FileObjectBlob(writer.file, writer.size()), filename)
        return True
