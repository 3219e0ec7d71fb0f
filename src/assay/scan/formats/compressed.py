"""Single compressed streams (gzip, bzip2, xz, lz4, zlib, joblib's old ZF files): decompressed lazily
and scanned by content, as joblib.load and friends would read them."""

from __future__ import annotations

import bz2
import lzma
import posixpath
import zlib
from collections.abc import Callable

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.formats.interface import FormatScanner
from assay.scan.sniff import sniff
from assay.scan.source import Blob, DecompressedBlob, SliceBlob

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.scan.source import Decompressor

_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".lz4", ".z", ".zlib", ".tgz", ".tbz2", ".txz")


def _lz4() -> Decompressor:
    import lz4.frame  # imported only for lz4 content

    return lz4.frame.LZ4FrameDecompressor()


_MAKERS: dict[str, tuple[Callable[[], Decompressor], bool]] = {
    "gzip": (lambda: zlib.decompressobj(31), True),
    "bzip2": (bz2.BZ2Decompressor, True),
    "xz": (lzma.LZMADecompressor, True),
    "lz4": (_lz4, True),
    "zlib": (zlib.decompressobj, False),
    "lzma-alone": (lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE), False),
    "joblib-zfile": (zlib.decompressobj, False),
}


def inner_name(name: str) -> str:
    """``model.pkl.gz`` -> ``model.pkl``; ``x.tgz`` -> ``x.tar``."""
    base = posixpath.basename(name)
    lower = base.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            stem = base[: -len(suffix)]
            return stem + ".tar" if suffix.startswith(".t") and suffix != ".tar" else stem
    return base


class CompressedScanner(FormatScanner):
    """One compressed stream around any other content."""

    formats = tuple(_MAKERS)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        kind = sniff(blob, name)[0]  # the dispatcher chose this scanner for exactly this codec
        make, multi = _MAKERS[kind]
        source = blob
        if kind == "joblib-zfile":  # 'ZF0x' + hex length + zlib stream
            header = blob.head(32)
            end = header.find(b"x", 4)
            start = header.find(b"x", end + 1) if end >= 0 else -1
            if start < 0:
                return False
            source = SliceBlob(blob, start, blob.size - start)
        inner = DecompressedBlob(source, make, ctx.limits.max_decompressed_bytes, multi_member=multi)
        if not inner.head(1):
            if inner.error and kind in ("zlib", "lzma-alone"):
                return False  # two bytes that only looked like a zlib header
            ctx.error(f"{kind} stream is empty or corrupt: {inner.error or 'no data'}")
            return True
        child = ctx.child(f"({kind}){inner_name(name)}")
        child.scan(inner, inner_name(name))
        if inner.error:
            child.add("AS205", Severity.LOW, f"{kind} stream: {inner.error}")
        consumed = max(inner.compressed_consumed, 1)
        produced = inner.size if inner.error is None else 0
        if produced > (1 << 20) and produced / consumed > ctx.limits.max_compression_ratio:
            ctx.add("AS204", Severity.HIGH, f"{kind} stream expands {produced // consumed}x ({consumed} -> {produced} bytes)")
        return True
