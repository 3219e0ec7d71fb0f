"""GGUF: a header of typed key/value metadata, then tensor infos and data (never read here).

Parsed by hand: the ``gguf`` package memory-maps the whole file through NumPy and trusts the
declared counts and lengths, while a scanner must bound every one of them and stop at the metadata.
"""

from __future__ import annotations

import struct

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.chat_template import check_template
from assay.scan._formats.interface import FormatScanner
from assay.scan._source import Blob, Cursor

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GgufError(Exception):
    """The header is malformed at ``offset``."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


class _Reader:
    def __init__(self, blob: Blob, ctx: ScanContext):
        self.cur = Cursor(blob)
        self.size = blob.size
        self.limits = ctx.limits
        self.entries = 0

    def take(self, fmt: str) -> object:
        n = struct.calcsize(fmt)
        data = self.cur.read(n)
        if len(data) < n:
            raise GgufError("header truncated", self.cur.pos)
        return struct.unpack(fmt, data)[0]

    def string(self, keep: bool) -> str | None:
        n = self.take("<Q")
        assert isinstance(n, int)
        if n > self.limits.max_gguf_string_bytes:
            raise GgufError(f"string of {n} bytes exceeds max_gguf_string_bytes", self.cur.pos)
        if n > self.size - self.cur.pos:
            raise GgufError(f"string of {n} bytes runs past the end of the file", self.cur.pos)
        if not keep:
            self.cur.skip(n)
            return None
        return self.cur.read(n).decode("utf-8", "replace")

    def value(self, vtype: int, keep: bool) -> object:
        self.entries += 1
        if self.entries > self.limits.max_gguf_metadata_entries:
            raise GgufError("more than max_gguf_metadata_entries values", self.cur.pos)
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype == _ARRAY:
            etype = self.take("<I")
            count = self.take("<Q")
            assert isinstance(etype, int) and isinstance(count, int)
            if count > self.limits.max_gguf_metadata_entries:
                raise GgufError(f"array of {count} items exceeds max_gguf_metadata_entries", self.cur.pos)
            if etype in _SCALARS:  # fixed-size items: skip without reading
                width = struct.calcsize(_SCALARS[etype])
                if count * width > self.size - self.cur.pos:
                    raise GgufError("array runs past the end of the file", self.cur.pos)
                self.entries += count
                self.cur.skip(count * width)
                return None
            items = [self.value(etype, keep) for _ in range(count)]
            return items if keep else None
        raise GgufError(f"unknown value type {vtype}", self.cur.pos)


class GgufScanner(FormatScanner):
    """GGUF model files (llama.cpp)."""

    formats = ("gguf",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        reader = _Reader(blob, ctx)
        try:
            reader.cur.skip(4)
            version = reader.take("<I")
            if version not in (1, 2, 3):
                raise GgufError(f"unsupported GGUF version {version}", 4)
            count_fmt = "<I" if version == 1 else "<Q"
            reader.take(count_fmt)  # tensor count
            kv_count = reader.take(count_fmt)
            assert isinstance(kv_count, int)
            if kv_count > ctx.limits.max_gguf_metadata_entries:
                raise GgufError(f"{kv_count} metadata entries exceed max_gguf_metadata_entries", reader.cur.pos)
            for _ in range(kv_count):
                key = reader.string(keep=True) or ""
                vtype = reader.take("<I")
                assert isinstance(vtype, int)
                offset = reader.cur.pos
                is_template = key.startswith("tokenizer.chat_template")
                value = reader.value(vtype, keep=is_template)
                if is_template:
                    for i, text in enumerate(value if isinstance(value, list) else [value]):
                        if isinstance(text, str):
                            check_template(text, f"metadata {key}" + (f"[{i}]" if isinstance(value, list) else ""),
                                           ctx, offset)
        except GgufError as exc:
            ctx.add("AS433", Severity.MEDIUM, f"GGUF header is malformed: {exc}", exc.offset)
        return True
