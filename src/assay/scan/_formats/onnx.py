"""ONNX models: external-data locations that escape the model folder, custom operator domains."""

from __future__ import annotations

import os
import posixpath
import re

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._formats.protobuf import Budget, ProtobufError, Span, fields
from assay.scan._source import Blob

STANDARD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft",
                    "com.microsoft.nchwc", "com.microsoft.mlfeaturizers", "com.microsoft.experimental",
                    "com.ms.internal.nhwc", "org.openvinotoolkit", "pkg.onnxscript.torch_lib",
                    "pkg.onnxscript.torch_lib.common", "pkg.torch.onnx"}
_DRIVE = re.compile(r"^[A-Za-z]:")
# The submessage fields each walk step reads (ONNX's onnx.proto numbers); everything else is skipped unread.
_MODEL = frozenset({7, 25})           # ModelProto: graph, functions
_GRAPH = frozenset({1, 5, 15})        # GraphProto: node, initializer, sparse_initializer
_FUNCTION = frozenset({1, 7, 10})     # FunctionProto: name, node, domain
_NODE = frozenset({4, 5, 7})          # NodeProto: op_type, attribute, domain
_ATTRIBUTE = frozenset({5, 6, 10, 11})  # AttributeProto: t, g, tensors, graphs
_TENSOR = frozenset({13})             # TensorProto: external_data
_PAIR = frozenset({1, 2})             # StringStringEntryProto key/value; SparseTensorProto values/indices


class _Walk:
    def __init__(self, blob: Blob, ctx: ScanContext):
        self.ctx = ctx
        self.root = Span.whole(blob)
        self.budget = Budget(ctx.limits.max_protobuf_fields)
        self.locations: dict[str, int] = {}
        self.local_functions: set[tuple[str, str]] = set()
        self.node_ops: list[tuple[str, str, int]] = []

    def model(self) -> None:
        for num, _, _, sub in fields(self.root, self.budget, _MODEL):
            if sub is None:
                continue
            if num == 7:
                self.graph(sub, 1)
            elif num == 25:
                self.function(sub, 1)

    def graph(self, span: Span, depth: int) -> None:
        if depth > self.ctx.limits.max_protobuf_depth:
            raise ProtobufError("subgraphs nested deeper than max_protobuf_depth", span.start)
        for num, _, _, sub in fields(span, self.budget, _GRAPH):
            if sub is None:
                continue
            if num == 1:
                self.node(sub, depth)
            elif num == 5:
                self.tensor(sub)
            elif num == 15:
                for n2, _, _, s2 in fields(sub, self.budget, _PAIR):
                    if s2 is not None and n2 in (1, 2):
                        self.tensor(s2)

    def function(self, span: Span, depth: int) -> None:
        name = domain = ""
        for num, _, _, sub in fields(span, self.budget, _FUNCTION):
            if sub is None:
                continue
            if num == 1:
                name = sub.text()
            elif num == 10:
                domain = sub.text()
            elif num == 7:
                self.node(sub, depth)
        self.local_functions.add((domain, name))

    def node(self, span: Span, depth: int) -> None:
        op = domain = ""
        for num, _, _, sub in fields(span, self.budget, _NODE):
            if sub is None:
                continue
            if num == 4:
                op = sub.text()
            elif num == 7:
                domain = sub.text()
            elif num == 5:
                for n2, _, _, s2 in fields(sub, self.budget, _ATTRIBUTE):
                    if s2 is None:
                        continue
                    if n2 in (6, 11):
                        self.graph(s2, depth + 1)
                    elif n2 in (5, 10):
                        self.tensor(s2)
        self.node_ops.append((domain, op, span.start))

    def tensor(self, span: Span) -> None:
        for num, _, _, sub in fields(span, self.budget, _TENSOR):
            if num == 13 and sub is not None:
                key = value = ""
                for n2, _, _, s2 in fields(sub, self.budget, _PAIR):
                    if s2 is not None and n2 == 1:
                        key = s2.text()
                    elif s2 is not None and n2 == 2:
                        value = s2.text(4096)
                if key == "location":
                    self.locations.setdefault(value, sub.start)


def check_location(location: str, ctx: ScanContext, offset: int) -> None:
    """Report an external-data location that reads outside the model's folder."""
    normal = location.replace("\\", "/")
    if normal.startswith("/") or _DRIVE.match(normal) or normal.startswith("//"):
        ctx.add("AS421", Severity.HIGH, f"external data location {location!r} is an absolute path", offset)
        return
    if ".." in normal.split("/"):
        ctx.add("AS421", Severity.HIGH, f"external data location {location!r} leaves the model folder", offset)
        return
    if ctx.real_dir is None or ctx.member is not None:
        return
    root = os.path.realpath(ctx.real_dir)
    path = os.path.join(ctx.real_dir, *normal.split("/"))
    probe = ctx.real_dir
    for part in normal.split("/"):
        probe = os.path.join(probe, part)
        if os.path.islink(probe):
            ctx.add("AS421", Severity.HIGH, f"external data location {location!r} goes through the symlink "
                    f"{posixpath.basename(probe)!r} -> {os.readlink(probe)!r}", offset)
            return
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        ctx.add("AS421", Severity.HIGH, f"external data location {location!r} resolves outside the model folder", offset)
    elif os.path.isfile(real) and os.stat(real).st_nlink > 1:
        ctx.add("AS421", Severity.MEDIUM, f"external data file {location!r} is a hard link (it may alias a file "
                "outside the model folder)", offset)


class OnnxScanner(FormatScanner):
    """``.onnx`` files (by name: ONNX has no magic bytes)."""

    formats = ("onnx",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        walk = _Walk(blob, ctx)
        try:
            walk.model()
        except ProtobufError as exc:
            ctx.add("AS423", Severity.MEDIUM, f"ONNX protobuf is malformed: {exc}", exc.offset)
        for location, offset in walk.locations.items():
            check_location(location, ctx, offset)
        custom: dict[str, tuple[str, int]] = {}
        for domain, op, offset in walk.node_ops:
            if domain not in STANDARD_DOMAINS and (domain, op) not in walk.local_functions:
                custom.setdefault(domain, (op, offset))
        for domain, (op, offset) in custom.items():
            ctx.add("AS422", Severity.MEDIUM, f"operator {op!r} from custom domain {domain!r} needs a native "
                    "custom-op library to run", offset)
        return True
