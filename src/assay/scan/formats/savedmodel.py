"""TensorFlow SavedModel (``saved_model.pb``) and Keras ``keras_metadata.pb``.

Every NodeDef of every graph is visited: the main graphs, the function library, and graphs
serialized inside node attributes (``DatasetFromGraph``'s ``graph_def``), where payloads hide.
"""

from __future__ import annotations

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.formats.interface import FormatScanner
from assay.scan.formats.protobuf import LEN, Budget, ProtobufError, fields, text
from assay.scan.source import Blob, SliceBlob

DANGEROUS_OPS: dict[str, tuple[Severity, str]] = {
    "PyFunc": (Severity.CRITICAL, "runs a Python function"),
    "PyFuncStateless": (Severity.CRITICAL, "runs a Python function"),
    "EagerPyFunc": (Severity.CRITICAL, "runs a Python function"),
    "ReadFile": (Severity.HIGH, "reads any file"),
    "WriteFile": (Severity.HIGH, "writes any file"),
    "DeleteFile": (Severity.HIGH, "deletes files"),
    "RecursivelyCreateDir": (Severity.HIGH, "creates folders"),
    "MatchingFiles": (Severity.MEDIUM, "lists files matching a pattern"),
    "ImmutableConst": (Severity.MEDIUM, "memory-maps a file named in the graph"),
    "LoadAndRemapMatrix": (Severity.MEDIUM, "reads a checkpoint file named in the graph"),
    "DebugIdentity": (Severity.MEDIUM, "dumps tensors to debug URLs"),
    "DebugIdentityV2": (Severity.MEDIUM, "dumps tensors to debug URLs"),
    "DebugNanCount": (Severity.MEDIUM, "dumps tensors to debug URLs"),
    "DebugNumericSummary": (Severity.MEDIUM, "dumps tensors to debug URLs"),
    "WriteAudioSummary": (Severity.LOW, "writes summaries"),
}


class _Graphs:
    def __init__(self, blob: Blob, ctx: ScanContext):
        self.blob = blob
        self.ctx = ctx
        self.budget = Budget(ctx.limits.max_protobuf_fields)
        self.hits: dict[str, tuple[int, str]] = {}

    def saved_model(self) -> None:
        for num, wire, val, off in fields(self.blob, 0, self.blob.size, self.budget):
            if num == 2 and wire == LEN:
                for n2, w2, v2, o2 in fields(self.blob, off, off + val, self.budget):
                    if n2 == 2 and w2 == LEN:
                        self.graph(self.blob, o2, o2 + v2, 1)

    def graph(self, blob: Blob, start: int, end: int, depth: int) -> None:
        if depth > self.ctx.limits.max_protobuf_depth:
            raise ProtobufError("graphs nested deeper than max_protobuf_depth", start)
        for num, wire, val, off in fields(blob, start, end, self.budget):
            if wire != LEN:
                continue
            if num == 1:
                self.node(blob, off, off + val, depth)
            elif num == 2:
                for n2, w2, v2, o2 in fields(blob, off, off + val, self.budget):
                    if n2 == 1 and w2 == LEN:
                        for n3, w3, v3, o3 in fields(blob, o2, o2 + v2, self.budget):
                            if n3 == 3 and w3 == LEN:
                                self.node(blob, o3, o3 + v3, depth)

    def node(self, blob: Blob, start: int, end: int, depth: int) -> None:
        op, name, strings = "", "", []
        for num, wire, val, off in fields(blob, start, end, self.budget):
            if wire != LEN:
                continue
            if num == 2:
                op = text(blob, off, val)
            elif num == 1:
                name = text(blob, off, val)
            elif num == 5:  # attr map entry: key=1, value=2 (AttrValue: s=2)
                key = ""
                for n2, w2, v2, o2 in fields(blob, off, off + val, self.budget):
                    if n2 == 1 and w2 == LEN:
                        key = text(blob, o2, v2)
                    elif n2 == 2 and w2 == LEN:
                        for n3, w3, v3, o3 in fields(blob, o2, o2 + v2, self.budget):
                            if n3 == 2 and w3 == LEN:
                                strings.append((key, o3, v3))
        for key, off, length in strings:
            if key == "graph_def" or op == "DatasetFromGraph":
                self.graph(SliceBlob(blob, off, length), 0, length, depth + 1)
            elif key == "output_stream" and op == "PrintV2" and text(blob, off, length).startswith("file://"):
                self.hits.setdefault("PrintV2", (start, f"node {name!r} writes to {text(blob, off, length)!r}"))
        if op in DANGEROUS_OPS:
            self.hits.setdefault(op, (start, f"node {name!r}"))


class SavedModelScanner(FormatScanner):
    """``saved_model.pb``."""

    formats = ("tf-savedmodel",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        graphs = _Graphs(blob, ctx)
        try:
            graphs.saved_model()
        except ProtobufError as exc:
            ctx.add("AS412", Severity.MEDIUM, f"SavedModel protobuf is malformed: {exc}", exc.offset)
        for op, (offset, where) in graphs.hits.items():
            severity, what = DANGEROUS_OPS.get(op, (Severity.HIGH, "writes to a file"))
            ctx.add("AS411", severity, f"TensorFlow op {op} {what} when the graph runs ({where})", offset)
        return True


class KerasMetadataScanner(FormatScanner):
    """``keras_metadata.pb``: Keras layer configs (JSON strings) of a TF SavedModel."""

    formats = ("tf-keras-metadata",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        from assay.scan.formats.keras import check_keras_json

        budget = Budget(ctx.limits.max_protobuf_fields)
        try:
            for num, wire, val, off in fields(blob, 0, blob.size, budget):
                if num == 1 and wire == LEN:
                    for n2, w2, v2, o2 in fields(blob, off, off + val, budget):
                        if n2 == 5 and w2 == LEN:
                            check_keras_json(text(blob, o2, v2, ctx.limits.max_json_bytes), ctx, o2)
        except ProtobufError as exc:
            ctx.add("AS412", Severity.MEDIUM, f"keras_metadata.pb is malformed: {exc}", exc.offset)
        return True
