"""NumPy .npy: a header, then raw data; an object dtype means the data is a pickle."""

from __future__ import annotations

import ast
import struct

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.formats.interface import FormatScanner
from assay.scan.pickle.stream import analyze_stream
from assay.scan.source import Blob


def _has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):  # structured dtype: [(name, descr[, shape]), ...]
        return any(isinstance(f, tuple) and len(f) >= 2 and _has_object(f[1]) for f in descr)
    return False


class NpyScanner(FormatScanner):
    """``.npy`` files (and ``.npz`` members)."""

    formats = ("npy",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        head = blob.head(12)
        major = head[6] if len(head) > 6 else 0
        if len(head) < (10 if major == 1 else 12):
            ctx.add("AS312", Severity.MEDIUM, ".npy header is truncated", 0)
            return True
        if major == 1:
            (hlen,) = struct.unpack("<H", head[8:10])
            start = 10
        elif major in (2, 3):
            (hlen,) = struct.unpack("<I", head[8:12])
            start = 12
        else:
            ctx.add("AS312", Severity.MEDIUM, f"unknown .npy format version {major}", 6)
            return True
        if hlen > 1 << 20:
            ctx.add("AS312", Severity.MEDIUM, f".npy header declares {hlen} bytes", 8)
            return True
        raw = blob.read_at(start, hlen)
        try:
            header = ast.literal_eval(raw.decode("latin-1" if major < 3 else "utf-8"))  # literals only, never code
            if not isinstance(header, dict) or "descr" not in header:
                raise ValueError("no descr")
        except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError):
            ctx.add("AS312", Severity.MEDIUM, ".npy header is not a valid dict literal", start)
            return True
        if _has_object(header["descr"]):
            ctx.add("AS311", Severity.LOW, f"object-dtype array: numpy.load(allow_pickle=True) unpickles it "
                    f"(descr {header['descr']!r})", start + hlen)
            analyze_stream(blob, ctx, start + hlen, definite=True, max_pickles=1)
        return True
