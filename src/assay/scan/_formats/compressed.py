"""Single compressed streams (gzip, bzip2, xz, lzma, lz4, zlib, joblib's old ZF files), read as their
loaders read them.

joblib.load picks a codec by prefix alone (see ``assay.scan._sniff``) and reads through a file class:
gzip and zlib through a single ``zlib.decompressobj`` (joblib's BinaryZlibFile), bz2 through
``bz2.BZ2File``, lzma and xz through ``lzma.LZMAFile`` (format auto), lz4 through ``LZ4FrameFile``.
Those file classes decide where a stream ends, whether the next stream is read (an empty first bz2
stream is followed by the real one), which trailing bytes are ignored and where loading fails. So
assay reads through the same stdlib classes (or an exact equivalent), never its own idea of the
format; content is "not this codec" only when the decompressor refuses the very first bytes.
"""

from __future__ import annotations

import posixpath

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._sniff import sniff
from assay.scan._source import Blob, BlobIO, ReaderBlob

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing
    from collections.abc import Callable

_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".lz4", ".z", ".zlib", ".tgz", ".tbz2", ".txz")
_READ_SIZE = 8192  # joblib's BinaryZlibFile and _compression read the underlying file in blocks of this size
# Prefixes that are too short to be sure: when the codec refuses them, the bytes are something else.
_WEAK = frozenset({"zlib", "lzma-alone", "joblib-zfile"})


class _ZlibStreamReader:
    """One zlib (or gzip, ``wbits=31``) stream read the way joblib's BinaryZlibFile reads it: a single
    decompressor, so the file's content ends with the first stream and later bytes are never used."""

    def __init__(self, fileobj: BlobIO, wbits: int, start: int = 0):
        import zlib

        self._fp = fileobj
        self._fp.seek(start)
        self._dec = zlib.decompressobj(wbits)
        self._pending = b""

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes; b"" at the end of the first stream."""
        while not self._pending:
            if self._dec.eof:
                return b""
            block = self._fp.read(_READ_SIZE)
            if not block:
                raise EOFError("compressed stream ended before its end-of-stream marker")
            self._pending = self._dec.decompress(block)
        out, self._pending = self._pending[:n], self._pending[n:]
        return out


class _XzConcatenatedReader:
    """xz streams read on across stream padding, as ``xz -d`` does. lzma.LZMAFile stops at the padding, so its
    output is a prefix of this one: a pickle read from either sees the same opcodes up to where LZMAFile ends."""

    def __init__(self, fileobj: BlobIO):
        import lzma

        self._lzma = lzma
        self._fp = fileobj
        self._dec = lzma.LZMADecompressor()
        self._streams = 0  # streams finished
        self._fresh = True  # the current decompressor has not accepted anything yet
        self._rest = b""
        self._pending = b""

    def _start_next_stream(self) -> bool:
        """Skip padding after a finished stream; False at the end of the input."""
        rest = (self._dec.unused_data + self._fp.read(_READ_SIZE)).lstrip(b"\0")
        while not rest:
            more = self._fp.read(_READ_SIZE)
            if not more:
                return False
            rest = more.lstrip(b"\0")
        self._rest, self._dec, self._fresh = rest, self._lzma.LZMADecompressor(), True
        self._streams += 1
        return True

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes; b"" after the last stream (or at bytes that start none)."""
        while not self._pending:
            if self._dec.eof and not self._start_next_stream():
                return b""
            block, self._rest = self._rest or self._fp.read(_READ_SIZE), b""
            if not block:
                raise EOFError("xz stream ended before its end-of-stream marker")
            try:
                self._pending = self._dec.decompress(block)
            except self._lzma.LZMAError:
                if self._fresh and self._streams:
                    return b""  # trailing bytes that start no stream: ignored, as LZMAFile ignores them
                raise
            self._fresh = False
        out, self._pending = self._pending[:n], self._pending[n:]
        return out


def _gzip_reader(fileobj: BlobIO) -> typing.IO[bytes]:
    """gzip: every member, as gzip.GzipFile reads them (a superset of joblib's first-member read)."""
    import gzip

    # typeshed declares GzipFile a BufferedIOBase but not an IO[bytes] (as it does BZ2File); typing.cast would
    # import typing at run time, which this module avoids for start-up time
    return gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[return-value]


def _bz2_reader(fileobj: BlobIO) -> typing.IO[bytes]:
    import bz2

    return bz2.BZ2File(fileobj, "rb")  # type: ignore[arg-type]


def _lzma_reader(fileobj: BlobIO) -> typing.IO[bytes]:
    import lzma

    return lzma.LZMAFile(fileobj, "rb")  # type: ignore[arg-type]


def _lzma_alone_reader(fileobj: BlobIO) -> typing.IO[bytes]:
    """.lzma headers liblzma's auto decoder calls unusual still open with FORMAT_ALONE (lzma.open does)."""
    import lzma

    return lzma.LZMAFile(fileobj, "rb", format=lzma.FORMAT_ALONE)  # type: ignore[arg-type]


def _lz4_reader(fileobj: BlobIO) -> typing.IO[bytes]:
    import lz4.frame  # imported only for lz4 content

    return lz4.frame.LZ4FrameFile(fileobj, "rb")  # type: ignore[no-any-return]


def _zfile_start(blob: Blob) -> int | None:
    """Where the zlib data of a joblib ZF file starts: 'ZF' + 19 characters of hex length (+ one space)."""
    header = blob.read_at(0, 22)
    try:
        int(header[2:21].decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError):
        return None  # joblib fails on this header before decompressing anything
    return 22 if header[21:22] == b" " else 21


def _readers(kind: str, blob: Blob) -> list[Callable[[BlobIO], typing.IO[bytes]]]:
    """The file classes a loader may read this content with, most likely first."""
    if kind == "gzip":
        return [_gzip_reader]
    if kind == "bzip2":
        return [_bz2_reader]
    if kind == "xz":
        return [_XzConcatenatedReader]  # type: ignore[list-item]
    if kind == "lzma-alone":
        return [_lzma_reader, _lzma_alone_reader]
    if kind == "lz4":
        return [_lz4_reader]
    if kind == "zlib":
        return [lambda f: _ZlibStreamReader(f, 15)]  # type: ignore[list-item, return-value]
    start = _zfile_start(blob)
    return [] if start is None else [lambda f: _ZlibStreamReader(f, 15, start)]  # type: ignore[list-item, return-value]


def inner_name(name: str) -> str:
    """``model.pkl.gz`` -> ``model.pkl``; ``x.tgz`` -> ``x.tar``."""
    base = posixpath.basename(name)
    lower = base.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            stem = base[: -len(suffix)]
            return stem + ".tar" if suffix.startswith(".t") and suffix != ".tar" else stem
    return base


def _open(kind: str, blob: Blob, ctx: ScanContext) -> ReaderBlob | None:
    """The first reader that accepts the content's first bytes, or None when every one refuses them
    (a strong magic that its codec refuses is reported as a scan error: the loader fails on it)."""
    inner = None
    for make in _readers(kind, blob):
        inner = ReaderBlob(blob, make, ctx.limits.max_decompressed_bytes)
        try:
            if not inner.rejected:
                return inner
        except ImportError as exc:  # lz4 is optional; without it assay cannot see what LZ4FrameFile reads
            ctx.error(f"{kind} stream cannot be read without the {exc.name or 'lz4'} package")
            return None
    if inner is not None and kind not in _WEAK:
        ctx.error(f"{kind} stream is corrupt: {inner.error}")
    return None


class CompressedScanner(FormatScanner):
    """One compressed stream around any other content."""

    formats = ("gzip", "bzip2", "xz", "lz4", "zlib", "lzma-alone", "joblib-zfile")

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        # sniff names at most one codec (the prefixes are disjoint, as in joblib's table)
        kind = next((k for k in sniff(blob, name) if k in self.formats), None)
        if kind is None:
            return False
        inner = _open(kind, blob, ctx)
        if inner is None:
            return kind not in _WEAK  # a strong magic is this format even when corrupt (reported above)
        self._scan_inner(kind, inner, name, ctx)
        return True

    def _scan_inner(self, kind: str, inner: ReaderBlob, name: str, ctx: ScanContext) -> None:
        child = ctx.child(f"({kind}){inner_name(name)}")
        if inner.head(1):
            child.scan(inner, inner_name(name))
        if inner.error:
            child.add("AS205", Severity.LOW, f"{kind} stream: {inner.error} (the loader stops here too)")
        consumed = max(inner.compressed_consumed, 1)
        produced = inner.size if inner.error is None else 0
        if produced > (1 << 20) and produced / consumed > ctx.limits.max_compression_ratio:
            ctx.add("AS204", Severity.HIGH, f"{kind} stream expands {produced // consumed}x ({consumed} -> {produced} bytes)")
