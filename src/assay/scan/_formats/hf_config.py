"""Hugging Face folder files: ``config.json``, ``tokenizer_config.json`` and the other configs loaders read
(code they name, under any key: see ``remote_code``; chat templates), ``chat_template.json`` and
``chat_template.jinja``."""

from __future__ import annotations

import json

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.chat_template import check_template
from assay.scan._formats.interface import FormatScanner
from assay.scan._formats.remote_code import find_code_refs, report_code_refs
from assay.scan._source import Blob


def read_json(blob: Blob, ctx: ScanContext) -> object | None:
    """Parse a JSON file within max_json_bytes; None (and a scan error) when it cannot be read."""
    text = ctx.read_whole(blob, "max_json_bytes", "JSON document")
    try:
        return None if text is None else json.loads(text)
    except (ValueError, RecursionError):
        return None


def _check_templates(value: object, where: str, ctx: ScanContext) -> None:
    if isinstance(value, str):
        check_template(value, where, ctx)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("template"), str):
                check_template(item["template"], f"{where}[{item.get('name', '?')}]", ctx)
    elif isinstance(value, dict) and isinstance(value.get("chat_template"), (str, list)):
        _check_templates(value["chat_template"], where, ctx)


def _check_code(doc: dict | list, ctx: ScanContext) -> None:
    """Code the document names (any key): the declaration (AS451) and each code file (AS454), high by default."""
    refs = find_code_refs(doc)
    declared = sorted({r.reference for r in refs if r.explicit})
    if declared:
        remote = sorted({r.remote for r in refs if r.remote})
        message = f"the config names custom code ({', '.join(declared[:4])}{', ...' if len(declared) > 4 else ''}): " \
                  "loading needs trust_remote_code=True and runs it"
        if remote:
            message += f"; code from other repositories: {', '.join(remote[:3])}"
        ctx.add("AS451", Severity.HIGH, message)
    report_code_refs(refs, ctx)


class HfConfigScanner(FormatScanner):
    """``config.json`` and ``tokenizer_config.json``-like files."""

    formats = ("hf-config", "hf-tokenizer-config", "chat-template-json")

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        doc = read_json(blob, ctx)
        if not isinstance(doc, (dict, list)):
            return False
        _check_code(doc, ctx)  # modules.json (sentence-transformers) is a list
        if isinstance(doc, dict) and "chat_template" in doc:
            _check_templates(doc["chat_template"], "chat_template", ctx)
        return True


class ChatTemplateScanner(FormatScanner):
    """``chat_template.jinja`` (a bare template file)."""

    formats = ("chat-template",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        text = ctx.read_whole(blob, "max_source_bytes", "chat template")
        if text is not None:
            check_template(text, "chat template", ctx)
        return True
