"""Hugging Face folder files: ``config.json`` / ``tokenizer_config.json`` (``auto_map`` custom code,
chat templates), ``chat_template.json`` and ``chat_template.jinja``."""

from __future__ import annotations

import json

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.formats.chat_template import check_template
from assay.scan.formats.interface import FormatScanner
from assay.scan.source import Blob


def read_json(blob: Blob, ctx: ScanContext) -> object | None:
    """Parse a JSON file within max_json_bytes; None (and a scan error) when it cannot be read."""
    text = ctx.read_whole(blob, "max_json_bytes", "JSON document")
    try:
        return None if text is None else json.loads(text)
    except (ValueError, RecursionError):
        return None


def _auto_map_targets(auto_map: object) -> list[str]:
    targets: list[str] = []
    for value in (auto_map.values() if isinstance(auto_map, dict) else []):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                targets.append(item)
    return targets


def _check_templates(value: object, where: str, ctx: ScanContext) -> None:
    if isinstance(value, str):
        check_template(value, where, ctx)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("template"), str):
                check_template(item["template"], f"{where}[{item.get('name', '?')}]", ctx)
    elif isinstance(value, dict) and isinstance(value.get("chat_template"), (str, list)):
        _check_templates(value["chat_template"], where, ctx)


class HfConfigScanner(FormatScanner):
    """``config.json`` and ``tokenizer_config.json``-like files."""

    formats = ("hf-config", "hf-tokenizer-config", "chat-template-json")

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        doc = read_json(blob, ctx)
        if not isinstance(doc, dict):
            return False
        targets = _auto_map_targets(doc.get("auto_map"))
        if targets:
            remote = [t for t in targets if "--" in t]
            message = f"auto_map names custom code ({', '.join(sorted(set(targets))[:4])}): loading needs trust_remote_code=True"
            if remote:
                message += f"; code from other repositories: {', '.join(sorted(set(remote))[:3])}"
            ctx.add("AS451", Severity.HIGH if remote else Severity.MEDIUM, message)
        if "chat_template" in doc:
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
