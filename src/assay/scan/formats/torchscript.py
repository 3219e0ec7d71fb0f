"""TorchScript ``code/`` files: the compiler only admits TorchScript, but operators can reach files
(``aten::from_file``) and custom operator namespaces need native libraries.

The source is read token by token (Python's tokenizer: TorchScript code is Python syntax), so a dotted
chain is found however it is spelled: ``ops . aten . from_file``, split over lines inside brackets, with
comments between its parts, or wrapped in parentheses. Comments and string literals never match.
"""

from __future__ import annotations

import re

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.source import Blob

_STANDARD = {"aten", "prim", "quantized", "_quantized", "_caffe2", "profiler", "_test", "quantized_decomposed",
             "torchvision", "torchaudio", "image", "_prims", "prims", "rngprims", "inductor"}
_FILE_OPS = {"from_file": "reads any file", "save": "writes files", "_save_jit_module": "writes files"}
_WORD = re.compile(r"\w+")
# When the tokenizer gives up (the compiler would too), a regular expression over the text with comments
# removed still finds chains with spaces, newlines and brackets between their parts.
_GAP = r"[\s()\\]*"
_OPS_LOOSE = re.compile(rf"\bops{_GAP}\.{_GAP}(\w+){_GAP}\.{_GAP}(\w+)")
_FROM_FILE_LOOSE = re.compile(rf"\btorch{_GAP}\.{_GAP}from_file\b")
_COMMENT = re.compile(r"#[^\n]*")


def _tokens(source: str) -> list[tuple[str, int]] | None:
    """Names and dots in order (brackets, comments and line breaks dropped), with character offsets;
    None when the text does not tokenize."""
    import io
    import tokenize
    import unicodedata

    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out: list[tuple[str, int]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                continue
            if tok.type == tokenize.OP and tok.string in "()":
                continue
            text = unicodedata.normalize("NFKC", tok.string) if tok.type == tokenize.NAME else tok.string
            row, col = tok.start
            out.append((text, starts[row - 1] + col if row - 1 < len(starts) else 0))
    except (tokenize.TokenError, SyntaxError):
        return None
    return out


def _chains(source: str) -> list[tuple[str, str, int]]:
    """Every ``(head, attribute path, offset)``: ``("ops", "aten.from_file", n)``, ``("torch", "from_file", n)``."""
    tokens = _tokens(source)
    found: list[tuple[str, str, int]] = []
    if tokens is None:
        text = _COMMENT.sub("", source)
        found += [("ops", f"{m.group(1)}.{m.group(2)}", m.start()) for m in _OPS_LOOSE.finditer(text)]
        found += [("torch", "from_file", m.start()) for m in _FROM_FILE_LOOSE.finditer(text)]
        return found
    for i, (text, offset) in enumerate(tokens):
        parts = [t for t, _ in tokens[i + 1 : i + 5]]
        after_dot = i > 0 and tokens[i - 1][0] == "."
        if text == "ops" and len(parts) >= 4 and parts[0] == parts[2] == "." and \
                _WORD.fullmatch(parts[1]) and _WORD.fullmatch(parts[3]):
            found.append(("ops", f"{parts[1]}.{parts[3]}", offset))
        elif text == "torch" and not after_dot and parts[:2] == [".", "from_file"]:
            found.append(("torch", "from_file", offset))
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
