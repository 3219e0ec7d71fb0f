"""TorchScript ``code/`` files: the compiler only admits TorchScript, but operators can reach files
(``aten::from_file``) and custom operator namespaces need native libraries."""

from __future__ import annotations

import re

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.source import Blob

_OPS = re.compile(r"\bops\.(\w+)\.(\w+)")
_STANDARD = {"aten", "prim", "quantized", "_quantized", "_caffe2", "profiler", "_test", "quantized_decomposed",
             "torchvision", "torchaudio", "image", "_prims", "prims", "rngprims", "inductor"}
_FILE_OPS = {"from_file": "reads any file", "save": "writes files", "_save_jit_module": "writes files"}


def scan_torchscript_code(blob: Blob, name: str, ctx: ScanContext) -> None:
    """Report operators in one TorchScript source file that reach files or native code."""
    source = ctx.read_whole(blob, "max_source_bytes", "TorchScript source")
    if source is None:
        return
    reported: set[str] = set()
    for match in _OPS.finditer(source):
        namespace, op = match.group(1), match.group(2)
        key = f"{namespace}.{op}"
        if key in reported:
            continue
        if op in _FILE_OPS:
            reported.add(key)
            ctx.add("AS301", Severity.HIGH, f"TorchScript calls torch.ops.{key}, which {_FILE_OPS[op]}", match.start())
        elif namespace not in _STANDARD:
            reported.add(key)
            ctx.add("AS301", Severity.MEDIUM, f"TorchScript calls torch.ops.{key} from a custom operator namespace "
                    "(needs a native library)", match.start())
    for match in re.finditer(r"\btorch\.from_file\b", source):
        ctx.add("AS301", Severity.HIGH, "TorchScript calls torch.from_file, which reads any file", match.start())
        break
