"""Chat templates (GGUF ``tokenizer.chat_template``, ``tokenizer_config.json``, ``chat_template.jinja``).

A template is parsed with Jinja's own parser (never rendered) and its syntax tree is searched for
the ways out of a template into Python: dunder or private attributes (``__class__``, ``__globals__``,
``__subclasses__``, ``_TemplateReference__context``...), the same names reached by subscript or by the
``attr`` filter, and names computed at render time and then used to look attributes up.
"""

from __future__ import annotations

import re

from assay.scan.context import ScanContext
from assay.scan.findings import Severity

_INTERNAL_NAMES = {"mro", "func_globals", "f_globals", "gi_frame", "cr_frame", "tb_frame", "f_back",
                   "f_builtins", "co_code", "im_func", "self", "cycler", "joiner", "lipsum", "url_for",
                   "get_flashed_messages", "config", "request", "namespace.__init__"}
_DANGEROUS_CALLS = {"popen", "system", "eval", "exec", "import_module", "__import__", "load_module", "getattr",
                    "subprocess", "check_output", "open", "read_text", "write_text"}
_TOKEN_FALLBACK = re.compile(r"__\w+__|\.mro\b|\bpopen\b|\bsubprocess\b|\bos\.system\b|\|\s*attr\s*\(")


def _is_internal(name: str) -> bool:
    return name.startswith("_") or name in ("mro",)


def template_problems(source: str) -> tuple[list[str], str | None]:
    """(reasons the template reaches Python internals, parse error or None)."""
    from jinja2 import Environment, nodes
    from jinja2.exceptions import TemplateError

    try:
        tree = Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"]).parse(source)
    except (TemplateError, RecursionError, MemoryError) as exc:
        hits = sorted(set(_TOKEN_FALLBACK.findall(source)))
        return ([f"contains {', '.join(hits[:5])}"] if hits else []), f"{type(exc).__name__}: {exc}"
    reasons: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call, nodes.Name)):
        if isinstance(node, nodes.Getattr) and _is_internal(node.attr):
            reasons.append(f"attribute {node.attr}")
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and \
                isinstance(node.arg.value, str) and _is_internal(node.arg.value):
            reasons.append(f"item [{node.arg.value!r}]")
        elif isinstance(node, nodes.Getitem) and not isinstance(node.arg, (nodes.Const, nodes.Name, nodes.Slice,
                                                                           nodes.Getattr, nodes.Getitem, nodes.BinExpr, nodes.UnaryExpr)):
            if any(isinstance(n, nodes.Concat) or (isinstance(n, nodes.Filter) and n.name in ("join", "format", "replace"))
                   for n in node.arg.find_all((nodes.Concat, nodes.Filter))):
                reasons.append("subscript with a computed name")
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            arg = node.args[0] if node.args else None
            if not (isinstance(arg, nodes.Const) and isinstance(arg.value, str) and not _is_internal(arg.value)):
                reasons.append("attr filter with an internal or computed name")
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr in _DANGEROUS_CALLS:
            reasons.append(f"call of .{node.node.attr}()")
        elif isinstance(node, nodes.Name) and node.name in _INTERNAL_NAMES and node.ctx == "load":
            if node.name in ("cycler", "joiner", "lipsum", "url_for", "get_flashed_messages", "request", "config", "self"):
                reasons.append(f"global {node.name} (a known gadget for reaching __globals__)")
    return list(dict.fromkeys(reasons)), None


def check_template(source: str, where: str, ctx: ScanContext, offset: int | None = None) -> None:
    """Report a chat template that reaches Python internals (or does not parse)."""
    if len(source) > ctx.limits.max_source_bytes:
        ctx.error(f"{where}: template longer than max_source_bytes", "max_source_bytes", offset)
        return
    reasons, parse_error = template_problems(source)
    if reasons:
        ctx.add("AS431", Severity.CRITICAL, f"{where} reaches Python internals: {'; '.join(reasons[:6])}", offset,
                "rendered without a sandbox (llama-cpp-python < 0.2.72, CVE-2024-34359) this runs code")
    if parse_error:
        ctx.add("AS432", Severity.LOW, f"{where} does not parse as Jinja: {parse_error}", offset)
