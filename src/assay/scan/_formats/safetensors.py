"""safetensors: an 8-byte header length, a JSON header, then tensor bytes (never read here).

Parsed by hand because the safetensors library either loads tensors or raises one error for the
first problem; a scanner must report every inconsistency (and duplicate keys, which Python's json
and Rust's serde resolve differently) without touching tensor data.
"""

from __future__ import annotations

import json
import math
import struct

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._source import Blob

# bits per element; sub-byte types pack several elements per byte
DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "E8M0": 8, "I16": 16, "U16": 16,
              "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
              "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8}


def _pairs_no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r} (parsers disagree on which one wins)")
    return dict(pairs)


class SafetensorsScanner(FormatScanner):
    """``.safetensors`` files."""

    formats = ("safetensors",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        (n,) = struct.unpack("<Q", blob.head(8))
        limit = ctx.limits.max_safetensors_header_bytes
        if n > limit:
            ctx.add("AS441", Severity.MEDIUM, f"header length {n} exceeds max_safetensors_header_bytes={limit}", 0)
            return True
        raw = blob.read_at(8, n)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_pairs_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            ctx.add("AS441", Severity.MEDIUM, f"header is not valid JSON: {exc}", 8)
            return True
        if not isinstance(header, dict):
            ctx.add("AS441", Severity.MEDIUM, "header is not a JSON object", 8)
            return True
        data_size = blob.size - 8 - n
        spans: list[tuple[int, int, str]] = []
        for key, info in header.items():
            if key == "__metadata__":
                if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                    ctx.add("AS441", Severity.MEDIUM, "__metadata__ must map strings to strings", 8)
                continue
            problem = self._tensor_problem(key, info, data_size)
            if problem:
                ctx.add("AS441", Severity.MEDIUM, problem, 8)
            else:
                begin, end = info["data_offsets"]
                spans.append((begin, end, key))
        spans.sort()
        overlaps = False
        for (_, end1, key1), (begin2, end2, key2) in zip(spans, spans[1:], strict=False):
            if begin2 < end1:
                overlaps = True
                ctx.add("AS441", Severity.MEDIUM, f"tensors {key1!r} and {key2!r} overlap (bytes {begin2}-{min(end1, end2)})", 8)
        covered = sum(end - begin for begin, end, _ in spans)
        if spans and not overlaps and covered < data_size:
            ctx.add("AS441", Severity.LOW, f"{data_size - covered} bytes of the data section belong to no tensor", 8,
                    "the safetensors library refuses holes; data hidden there is invisible to loaders")
        return True

    @staticmethod
    def _tensor_problem(key: str, info: object, data_size: int) -> str | None:
        if not isinstance(info, dict):
            return f"tensor {key!r}: entry is not an object"
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            return f"tensor {key!r}: unknown dtype {dtype!r}"
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            return f"tensor {key!r}: shape must be a list of non-negative integers"
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) and o >= 0 for o in offsets)):
            return f"tensor {key!r}: data_offsets must be [begin, end]"
        begin, end = offsets
        if end < begin:
            return f"tensor {key!r}: data_offsets end before they begin"
        if end > data_size:
            return f"tensor {key!r}: data_offsets [{begin}, {end}] run past the data section ({data_size} bytes)"
        expected_bits = math.prod(shape) * DTYPE_BITS[dtype]
        if (expected_bits + 7) // 8 != end - begin:
            return f"tensor {key!r}: {dtype} {shape} needs {(expected_bits + 7) // 8} bytes, offsets give {end - begin}"
        return None
