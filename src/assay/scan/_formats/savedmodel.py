"""TensorFlow SavedModel (``saved_model.pb``) and Keras ``keras_metadata.pb``.

Every NodeDef of every graph is visited: the main graphs, the function library, and graphs
serialized inside node attributes (``DatasetFromGraph``'s ``graph_def``), where payloads hide.
"""

from __future__ import annotations

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._formats.protobuf import Budget, ProtobufError, Span, fields
from assay.scan._source import Blob

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
        self.root = Span.whole(blob)
        self.ctx = ctx
        self.budget = Budget(ctx.limits.max_protobuf_fields)
        self.hits: dict[str, tuple[int, str]] = {}

    def saved_model(self) -> None:
        for num, _, _, meta in fields(self.root, self.budget):
            if num == 2 and meta is not None:
                for n2, _, _, graph in fields(meta, self.budget):
                    if n2 == 2 and graph is not None:
                        self.graph(graph, 1)

    def graph(self, span: Span, depth: int) -> None:
        if depth > self.ctx.limits.max_protobuf_depth:
            raise ProtobufError("graphs nested deeper than max_protobuf_depth", span.start)
        for num, _, _, sub in fields(span, self.budget):
            if sub is None:
                continue
            if num == 1:
                self.node(sub, depth)
            elif num == 2:
                for n2, _, _, function in fields(sub, self.budget):
                    if n2 == 1 and function is not None:
                        for n3, _, _, node in fields(function, self.budget):
                            if n3 == 3 and node is not None:
                                self.node(node, depth)

    def node(self, span: Span, depth: int) -> None:
        op, name, strings = "", "", []
        for num, _, _, sub in fields(span, self.budget):
            if sub is None:
                continue
            if num == 2:
                op = sub.text()
            elif num == 1:
                name = sub.text()
            elif num == 5:  # attr map entry: key=1, value=2 (AttrValue: s=2)
                key = ""
                for n2, _, _, s2 in fields(sub, self.budget):
                    if n2 == 1 and s2 is not None:
                        key = s2.text()
                    elif n2 == 2 and s2 is not None:
                        for n3, _, _, s3 in fields(s2, self.budget):
                            if n3 == 2 and s3 is not None:
                                strings.append((key, s3))
        for key, value in strings:
            if key == "graph_def" or op == "DatasetFromGraph":
                self.graph(Span.whole(value.as_blob()), depth + 1)
            elif key == "output_stream" and op == "PrintV2" and value.text().startswith("file://"):
                self.hits.setdefault("PrintV2", (span.start, f"node {name!r} writes to {value.text()!r}"))
        if op in DANGEROUS_OPS:
            self.hits.setdefault(op, (span.start, f"node {name!r}"))


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
        from assay.scan._formats.keras import check_keras_json

        budget = Budget(ctx.limits.max_protobuf_fields)
        try:
            for num, _, _, node in fields(Span.whole(blob), budget):
                if num == 1 and node is not None:
                    for n2, _, _, metadata in fields(node, budget):
                        if n2 == 5 and metadata is not None:
                            check_keras_json(metadata.text(ctx.limits.max_json_bytes), ctx, metadata.start)
        except ProtobufError as exc:
            ctx.add("AS412", Severity.MEDIUM, f"keras_metadata.pb is malformed: {exc}", exc.offset)
        return True
