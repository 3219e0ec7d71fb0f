"""TorchScript ``code/`` files: the compiler only admits TorchScript, but operators can reach files
(``aten::from_file``) and custom operator namespaces need native libraries.

Comments and string literals are blanked first (so they never match), then a dotted chain is found however it
is spelled: ``ops . aten . from_file``, split over lines, with backslashes, comments or brackets between its parts.
A regular expression over the text, not Python's tokenizer: the tokenizer cost about 60 ms on silero-vad's 46 code
files, more than the rest of that scan.
"""

from __future__ import annotations

import re

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._source import Blob

_STANDARD = {"aten", "prim", "quantized", "_quantized", "_caffe2", "profiler", "_test", "quantized_decomposed",
             "torchvision", "torchaudio", "image", "_prims", "prims", "rngprims", "inductor"}
_FILE_OPS = {"from_file": "reads any file", "save": "writes files", "_save_jit_module": "writes files"}
_GAP = r"[\s()\\]*"
_OPS = re.compile(rf"\bops{_GAP}\.{_GAP}(\w+){_GAP}\.{_GAP}(\w+)")
_FROM_FILE = re.compile(rf"(?<![\w.])torch{_GAP}\.{_GAP}from_file\b")
# String literals (triple-quoted first) and comments, in one pass from left to right: a '#' inside a string
# and a quote inside a comment are consumed by whichever starts first.
_NOT_CODE = re.compile(r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|#[^\n]*''')


def _chains(source: str) -> list[tuple[str, str, int]]:
    """Every ``(head, attribute path, offset)``: ``("ops", "aten.from_file", n)``, ``("torch", "from_file", n)``."""
    text = _NOT_CODE.sub(lambda m: " " * len(m.group()), source)
    if not text.isascii():
        import unicodedata

        text = unicodedata.normalize("NFKC", text)  # identifiers as Python reads them (fullwidth letters ...)
    found = [("ops", f"{m.group(1)}.{m.group(2)}", m.start()) for m in _OPS.finditer(text)]
    found += [("torch", "from_file", m.start()) for m in _FROM_FILE.finditer(text)]
    return found


def scan_torchscript_code(blob: Blob, name: str, ctx: ScanContext) -> None:
    """Report operators in one TorchScript source file that reach files or native code."""
    source = ctx.read_whole(blob, "max_source_bytes", "TorchScript source")
    if source is None:
        return
    reported: set[str] = set()
    for head, path, offset in _chains(source):
        if head == "torch":
            if "torch.from_file" not in reported:
                reported.add("torch.from_file")
                ctx.add("AS301", Severity.HIGH, "TorchScript calls torch.from_file, which reads any file", offset)
            continue
        namespace, op = path.split(".")
        if path in reported:
            continue
        if op in _FILE_OPS:
            reported.add(path)
            ctx.add("AS301", Severity.HIGH, f"TorchScript calls torch.ops.{path}, which {_FILE_OPS[op]}", offset)
        elif namespace not in _STANDARD:
            reported.add(path)
            ctx.add("AS301", Severity.MEDIUM, f"TorchScript calls torch.ops.{path} from a custom operator namespace "
                    "(needs a native library)", offset)
