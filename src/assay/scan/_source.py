"""Random-access byte sources that never read more than asked.

A stored archive member is a window on its parent file (no copy); a compressed member or stream is
decompressed lazily, only as far as a reader asks, into a spooled temporary file (memory up to a few
MiB, disk beyond) so that memory stays bounded whatever the archive claims.
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod

from assay.scan._limits import LimitExceeded

TYPE_CHECKING = False  # importing typing costs milliseconds of start-up; these names serve type checkers
if TYPE_CHECKING:
    import typing
    from collections.abc import Callable
    from typing import Protocol

    class Decompressor(Protocol):
        """The part of zlib/bz2/lzma/lz4 decompressor objects this module uses."""

        def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...

_CHUNK = 256 * 1024


class Blob(ABC):
    """A finite sequence of bytes read by offset."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Number of bytes (may decompress everything for compressed sources)."""

    @abstractmethod
    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``offset``; fewer only at the end."""

    def head(self, n: int = 64) -> bytes:
        """The first ``n`` bytes."""
        return self.read_at(0, n)

    def tail(self, n: int) -> bytes:
        """The last ``n`` bytes (or the whole blob when it is shorter)."""
        size = self.size
        start = max(0, size - n)
        return self.read_at(start, size - start)


class FileBlob(Blob):
    """A file on disk, read with pread (no shared cursor, safe across threads)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._size = os.fstat(self._fd).st_size

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, n: int) -> bytes:
        if n <= 0 or offset >= self._size:
            return b""
        return os.pread(self._fd, min(n, self._size - offset), offset)

    def close(self) -> None:
        """Release the file descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesBlob(Blob):
    """Bytes already in memory."""

    def __init__(self, data: bytes):
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read_at(self, offset: int, n: int) -> bytes:
        return self._data[offset : offset + max(n, 0)] if offset >= 0 else b""


class SliceBlob(Blob):
    """A window ``[start, start+length)`` of another blob (a stored archive member)."""

    def __init__(self, parent: Blob, start: int, length: int):
        self._parent = parent
        self._start = start
        self._length = max(0, min(length, parent.size - start))

    @property
    def size(self) -> int:
        return self._length

    def read_at(self, offset: int, n: int) -> bytes:
        if offset >= self._length or n <= 0:
            return b""
        return self._parent.read_at(self._start + offset, min(n, self._length - offset))


SPOOL_BYTES = 8 << 20
"""Decompressed output kept in memory before it moves to a temporary file."""


class _SpooledBlob(Blob):
    """Output produced on demand and kept in a spool: memory up to SPOOL_BYTES, a temporary file beyond."""

    def __init__(self, max_bytes: int):
        # tempfile itself is imported only when output outgrows memory: with the random module it pulls in,
        # it costs 3 ms of every scan's start-up.
        self._spool: io.BytesIO | typing.IO[bytes] = io.BytesIO()
        self._produced = 0
        self._done = False
        self._max = max_bytes
        self.error: str | None = None

    def _pump(self, want: int) -> None:
        raise NotImplementedError

    def _append(self, out: bytes) -> None:
        if self._produced + len(out) > self._max:
            raise LimitExceeded("max_decompressed_bytes", f"decompressed output exceeds max_decompressed_bytes={self._max}")
        self._spool.seek(0, os.SEEK_END)
        self._spool.write(out)
        self._produced += len(out)
        if self._produced > SPOOL_BYTES and isinstance(self._spool, io.BytesIO):
            import tempfile

            disk = tempfile.TemporaryFile()
            disk.write(self._spool.getbuffer())
            self._spool = disk

    @property
    def size(self) -> int:
        self._pump(1 << 62)
        return self._produced

    def read_at(self, offset: int, n: int) -> bytes:
        if n <= 0:
            return b""
        self._pump(offset + n)
        if offset >= self._produced:
            return b""
        self._spool.seek(offset)
        return self._spool.read(min(n, self._produced - offset))


class DecompressedBlob(_SpooledBlob):
    """The output of a streaming decompressor over ``source``, produced on demand.

    ``make`` returns a fresh decompressor; ``max_bytes`` bounds the output (LimitExceeded past it).
    Corrupt input ends the stream early and sets ``error``; what came before stays readable.
    """

    def __init__(self, source: Blob, make: Callable[[], Decompressor], max_bytes: int, multi_member: bool = False):
        super().__init__(max_bytes)
        self._source = source
        self._make = make
        self._dec = make()
        self._in_pos = 0
        self._multi = multi_member

    @property
    def compressed_consumed(self) -> int:
        """Input bytes consumed so far."""
        return self._in_pos

    def _pump(self, want: int) -> None:
        while not self._done and self._produced < want:
            unconsumed = getattr(self._dec, "unconsumed_tail", b"")
            if unconsumed:
                chunk = unconsumed
            else:
                chunk = self._source.read_at(self._in_pos, _CHUNK)
                self._in_pos += len(chunk)
            try:
                out = self._dec.decompress(chunk, _CHUNK) if hasattr(self._dec, "unconsumed_tail") else self._dec.decompress(chunk)
            except Exception as exc:  # every codec has its own error type; all mean "corrupt"
                self.error = f"corrupt compressed data after {self._produced} bytes: {exc}"
                self._done = True
                return
            if out:
                self._append(out)
            if getattr(self._dec, "eof", False):
                rest = getattr(self._dec, "unused_data", b"")
                if self._multi and (rest or self._in_pos < self._source.size):
                    self._in_pos -= len(rest)
                    self._dec = self._make()
                    continue
                self._done = True
            elif not chunk and not out:
                if not getattr(self._dec, "unconsumed_tail", b""):
                    self.error = f"compressed stream truncated after {self._produced} bytes"
                    self._done = True


class ReaderBlob(_SpooledBlob):
    """What a decompressing file object (``gzip.GzipFile``, ``bz2.BZ2File``, ``lzma.LZMAFile``, lz4's
    ``LZ4FrameFile``...) reads from ``source``, produced on demand.

    The loader's own file class decides where streams end, which trailing bytes it ignores and where it
    fails, so assay sees exactly the bytes the loader sees. ``rejected`` is True when the reader failed
    before producing any byte (the content is not this codec after all).
    """

    def __init__(self, source: Blob, open_reader: Callable[[BlobIO], typing.IO[bytes]], max_bytes: int):
        super().__init__(max_bytes)
        self._raw = BlobIO(source)
        self._open = open_reader
        self._reader: typing.IO[bytes] | None = None

    @property
    def compressed_consumed(self) -> int:
        """Input bytes the reader has consumed so far."""
        return self._raw.tell()

    @property
    def rejected(self) -> bool:
        """True when the reader refused the content before producing anything."""
        self._pump(1)
        return self._produced == 0 and self.error is not None

    def _pump(self, want: int) -> None:
        while not self._done and self._produced < want:
            try:
                if self._reader is None:
                    self._reader = self._open(self._raw)
                out = self._reader.read(_CHUNK)
            except (LimitExceeded, ImportError):  # a limit, or a missing optional codec: not "corrupt data"
                raise
            except Exception as exc:  # every codec has its own error type; all mean "the loader stops here"
                self.error = f"corrupt compressed data after {self._produced} bytes: {type(exc).__name__}: {exc}"
                self._done = True
                return
            if not out:
                self._done = True
                return
            self._append(out)


class Cursor:
    """A forward reader over a blob with a read-ahead buffer; skipping costs nothing."""

    __slots__ = ("_blob", "pos", "_buf", "_buf_start", "end")

    def __init__(self, blob: Blob, start: int = 0, end: int | None = None):
        self._blob = blob
        self.pos = start
        self.end = end
        self._buf = b""
        self._buf_start = start

    def _fill(self, n: int) -> None:
        want = max(n, _CHUNK)
        self._buf = self._blob.read_at(self.pos, want)
        self._buf_start = self.pos

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer at the end of the blob."""
        rel = self.pos - self._buf_start
        if rel < 0 or rel + n > len(self._buf):
            self._fill(n)
            rel = 0
        out = self._buf[rel : rel + n]
        self.pos += len(out)
        return out

    def read_byte(self) -> int:
        """One byte, or -1 at the end."""
        rel = self.pos - self._buf_start
        if rel < 0 or rel >= len(self._buf):
            self._fill(1)
            rel = 0
            if not self._buf:
                return -1
        self.pos += 1
        return self._buf[rel]

    def readline(self, limit: int) -> bytes | None:
        """Bytes up to and including a newline; None if none comes within ``limit`` bytes."""
        out = bytearray()
        while True:
            rel = self.pos - self._buf_start
            if rel < 0 or rel >= len(self._buf):
                self._fill(1)
                rel = 0
                if not self._buf:
                    return None
            idx = self._buf.find(b"\n", rel, rel + limit - len(out) + 1)
            if idx >= 0:
                out += self._buf[rel : idx + 1]
                self.pos += idx + 1 - rel
                return bytes(out)
            out += self._buf[rel:]
            self.pos += len(self._buf) - rel
            if len(out) > limit:
                return None

    def byte_at(self, pos: int) -> int:
        """The byte at ``pos``, or -1 past the end (the cursor does not move)."""
        data = self._blob.read_at(pos, 1)
        return data[0] if data else -1

    def has_byte(self, pos: int) -> bool:
        """True when the blob has a byte at ``pos`` (a bounds check that reads one byte at most)."""
        return bool(self._blob.read_at(pos, 1))

    def skip(self, n: int) -> None:
        """Move forward ``n`` bytes without reading them."""
        self.pos += n

    def at_end(self) -> bool:
        """True when no byte is left."""
        return not self._blob.read_at(self.pos, 1)


class BlobIO(io.RawIOBase):
    """A read-only, seekable file object over a blob (for tarfile, h5py and py7zr)."""

    def __init__(self, blob: Blob):
        super().__init__()
        self._blob = blob
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all remaining when negative)."""
        if n is None or n < 0:
            n = self._blob.size - self._pos
        data = self._blob.read_at(self._pos, n)
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
        """Fill ``buffer``; return the count."""
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the position."""
        base = {0: 0, 1: self._pos, 2: self._blob.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        """The position."""
        return self._pos

    def seekable(self) -> bool:
        """Always."""
        return True

    def readable(self) -> bool:
        """Always."""
        return True


class FileObjectBlob(Blob):
    """A seekable file object of known size (a spooled temporary file)."""

    def __init__(self, fileobj: object, size: int):
        self._file = fileobj
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, n: int) -> bytes:
        if n <= 0 or offset >= self._size:
            return b""
        self._file.seek(offset)  # type: ignore[attr-defined]
        return self._file.read(min(n, self._size - offset))  # type: ignore[attr-defined]
