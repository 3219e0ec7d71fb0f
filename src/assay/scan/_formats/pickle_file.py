"""Pickle streams: plain pickles, dill/cloudpickle, joblib, legacy (non-zip) PyTorch files."""

from __future__ import annotations

from assay.scan._context import ScanContext
from assay.scan._formats.interface import FormatScanner
from assay.scan._pickle.stream import analyze_stream
from assay.scan._source import Blob


class PickleScanner(FormatScanner):
    """``pickle``: content starts with a protocol 2+ header. ``pickle?``: it might be a protocol 0/1
    pickle; it is reported only when it parses or imports something."""

    formats = ("pickle", "pickle?")

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        head = blob.head(2)
        # A protocol header the unpickler accepts; 0x80 then 241 is refused before anything runs.
        definite = len(head) == 2 and head[0] == 0x80 and head[1] <= 5
        result = analyze_stream(blob, ctx, definite=definite, joblib=True)
        if result.torch_legacy:
            ctx.format("pytorch-legacy")
        return result.is_pickle
