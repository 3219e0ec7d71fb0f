"""Hugging Face model cards: the YAML front matter of README.md and the first paragraph of its text.

The front matter is untrusted input. It is loaded only with ``yaml.safe_load`` and only after a token
scan has refused anchors/aliases (billion-laughs bombs), deep nesting and oversize input, so a hostile
card costs at most linear time in its (bounded) size. Every problem becomes a ``CardFinding``; nothing
here raises for bad card content.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from assay.card._interface import BaseModelRef, CardFinding, ModelCard
from assay.errors import InputError

CARD_NAMES: tuple[str, ...] = ("README.md", "readme.md", "MODEL_CARD.md")
"""Card file names looked for at the top of a model folder, in order of preference (then case-insensitively)."""
MAX_CARD_BYTES = 1 << 20
"""Bytes of a card file read (``max_card_bytes``); a longer card is read up to this and flagged."""
MAX_FRONT_MATTER_BYTES = 256 << 10
"""Bytes of YAML front matter parsed (``max_front_matter_bytes``); beyond this the metadata is refused."""
MAX_YAML_TOKENS = 100_000
"""YAML tokens scanned before the front matter is refused (``max_yaml_tokens``)."""
MAX_YAML_DEPTH = 32
"""Nesting depth of YAML collections accepted (``max_yaml_depth``); keeps the loader off deep recursion."""
MAX_LIST_ITEMS = 10_000
"""Items kept from any one list field (datasets, tags, metrics ...); the rest are dropped and flagged."""
SUMMARY_CHARS = 500
"""Longest ``ModelCard.summary``."""

_OPENERS = (yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken, yaml.FlowSequenceStartToken,
            yaml.FlowMappingStartToken)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)


class _Refused(Exception):
    """Internal: the front matter is refused before loading (reason in the message)."""


def read_card(model_dir: Path, *, max_card_bytes: int = MAX_CARD_BYTES) -> ModelCard:
    """Find and parse the model card at the top of ``model_dir``.

    Raises ``InputError`` only when ``model_dir`` is not a readable folder; a missing card gives
    ``ModelCard(path=None)`` with an info finding ``card-missing``, a bad card gives findings.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    name = _find_card(folder)
    if name is None:
        return ModelCard(path=None, findings=(CardFinding("card-missing", "info", "no README.md model card"),))
    try:
        data, truncated = _read_prefix(folder / name, max_card_bytes)
    except OSError as exc:
        finding = CardFinding("card-unreadable", "medium", f"{name}: cannot read ({exc.strerror or exc})")
        return ModelCard(path=name, findings=(finding,))
    card = parse_card_text(data.decode("utf-8", errors="replace"), path=name)
    if truncated:
        finding = CardFinding("card-too-large", "medium", f"{name} is larger than {max_card_bytes} bytes; "
                              "only the beginning was read")
        card = _with_findings(card, (finding,))
    return card


def parse_card_text(text: str, path: str | None = None, *, max_front_matter_bytes: int = MAX_FRONT_MATTER_BYTES,
                    max_yaml_tokens: int = MAX_YAML_TOKENS, max_yaml_depth: int = MAX_YAML_DEPTH) -> ModelCard:
    """Parse the text of a model card (front matter plus Markdown) into a ``ModelCard``; never raises."""
    findings: list[CardFinding] = []
    front, body = _split_front_matter(text, findings)
    meta: dict[str, Any] = {}
    if front is not None:
        loaded = _load_yaml(front, findings, max_front_matter_bytes, max_yaml_tokens, max_yaml_depth)
        if isinstance(loaded, dict):
            meta = loaded
        elif loaded is not None:
            findings.append(CardFinding("card-front-matter-not-mapping", "medium",
                                        f"front matter is a {type(loaded).__name__}, not a mapping"))
    fields = _Fields(meta, findings)
    base_names = fields.strings("base_model")
    relation = fields.string("base_model_relation")
    model_name, metrics = _model_index(meta.get("model-index"), findings)
    return ModelCard(
        path=path,
        license=fields.string("license", allow_list=True),
        license_name=fields.string("license_name"),
        license_link=fields.string("license_link"),
        base_models=tuple(BaseModelRef(name, relation) for name in base_names),
        datasets=fields.strings("datasets"),
        pipeline_tag=fields.string("pipeline_tag"),
        library_name=fields.string("library_name"),
        languages=fields.strings("language"),
        tags=fields.strings("tags"),
        metrics=metrics,
        model_name=model_name,
        summary=first_paragraph(body),
        text=body,
        findings=tuple(findings),
    )


def first_paragraph(markdown: str, limit: int = SUMMARY_CHARS) -> str | None:
    """The first prose paragraph of Markdown text: headings, comments, code, tables and badges skipped."""
    text = re.sub(r"<!--.*?(-->|\Z)", "\n", markdown, flags=re.S)
    lines: list[str] = []
    fence: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if fence is not None:
            if line.startswith(fence):
                fence = None
            continue
        if line.startswith(("```", "~~~")):
            fence = line[:3]
            if lines:
                break
            continue
        if not line or _is_decoration(line):
            if lines:
                break
            continue
        lines.append(line)
    if not lines:
        return None
    prose = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(lines))  # keep a link's text, drop its target
    prose = re.sub(r"<[^>]{0,200}>", "", prose)
    prose = re.sub(r"\s+", " ", prose).strip()
    if not prose:
        return None
    return prose if len(prose) <= limit else prose[: limit - 1].rstrip() + "…"


def _is_decoration(line: str) -> bool:
    """Lines that are not prose: headings, rules, tables, quotes of HTML, images and badges."""
    if line.startswith(("#", "|", "<", ">", "---", "***", "___", "===", "[!")) or line.startswith("!["):
        return True
    stripped = re.sub(r"\[?!\[[^\]]*\]\([^)]*\)(\]\([^)]*\))?", "", line)  # images and linked images (badges)
    return not stripped.strip()


def _find_card(folder: Path) -> str | None:
    try:
        entries = {entry.name: entry for entry in os.scandir(folder)}
    except OSError as exc:
        raise InputError(f"cannot list {folder}: {exc.strerror or exc}") from None
    lowered = {name.lower(): name for name in sorted(entries)}
    for wanted in CARD_NAMES:
        name = wanted if wanted in entries else lowered.get(wanted.lower())
        if name is not None and _is_regular(folder / name):
            return name
    return None


def _is_regular(path: Path) -> bool:
    """A regular file after following symlinks (Hugging Face cache snapshots are symlinks); never a FIFO."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _read_prefix(path: Path, limit: int) -> tuple[bytes, bool]:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit], len(data) > limit


def _split_front_matter(text: str, findings: list[CardFinding]) -> tuple[str | None, str]:
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1:]).lstrip("\r\n")
    findings.append(CardFinding("card-unterminated-front-matter", "medium",
                                "front matter opens with '---' but never closes; no metadata read"))
    return None, text


def _load_yaml(front: str, findings: list[CardFinding], max_bytes: int, max_tokens: int, max_depth: int) -> Any:
    if len(front.encode("utf-8", errors="replace")) > max_bytes:
        findings.append(CardFinding("card-front-matter-too-large", "medium",
                                    f"front matter is larger than {max_bytes} bytes; not parsed"))
        return None
    try:
        _precheck(front, max_tokens, max_depth)
        return yaml.safe_load(front)
    except _Refused as exc:
        findings.append(CardFinding("card-yaml-refused", "high", str(exc)))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        findings.append(CardFinding("card-malformed-yaml", "medium", f"front matter is not valid YAML: {first}"))
    except (RecursionError, ValueError, TypeError, OverflowError, MemoryError) as exc:
        # safe_load can still raise plain errors on odd scalars (e.g. an impossible timestamp)
        findings.append(CardFinding("card-malformed-yaml", "medium",
                                    f"front matter could not be loaded: {type(exc).__name__}"))
    return None


def _precheck(front: str, max_tokens: int, max_depth: int) -> None:
    """Refuse aliases, deep nesting and token floods before ``safe_load`` builds anything."""
    depth = 0
    for count, token in enumerate(yaml.scan(front, Loader=yaml.SafeLoader)):
        if count >= max_tokens:
            raise _Refused(f"front matter has more than {max_tokens} YAML tokens")
        if isinstance(token, (yaml.AliasToken, yaml.AnchorToken)):
            raise _Refused("front matter uses YAML anchors/aliases, which model cards do not need")
        if isinstance(token, _OPENERS):
            depth += 1
            if depth > max_depth:
                raise _Refused(f"front matter nests deeper than {max_depth} levels")
        elif isinstance(token, _CLOSERS):
            depth -= 1


class _Fields:
    """Typed access to front-matter fields; a wrong type becomes a finding and the field is left empty."""

    def __init__(self, meta: dict[str, Any], findings: list[CardFinding]) -> None:
        self.meta = meta
        self.findings = findings

    def _wrong(self, key: str, value: Any, wanted: str) -> None:
        self.findings.append(CardFinding("card-field-type", "low",
                                         f"front matter '{key}' is a {type(value).__name__}, expected {wanted}"))

    def string(self, key: str, *, allow_list: bool = False) -> str | None:
        value = self.meta.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip() or None
        if allow_list and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            # some cards list several licenses; a list is read as a choice among them
            self._wrong(key, value, "a string (read as an OR of its items)")
            return " OR ".join(v.strip() for v in value[:MAX_LIST_ITEMS] if v.strip()) or None
        self._wrong(key, value, "a string")
        return None

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.meta.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value.strip(),) if value.strip() else ()
        if not isinstance(value, list):
            self._wrong(key, value, "a string or a list of strings")
            return ()
        if len(value) > MAX_LIST_ITEMS:
            self.findings.append(CardFinding("card-field-too-long", "low",
                                             f"front matter '{key}' has {len(value)} items; kept {MAX_LIST_ITEMS}"))
        items = value[:MAX_LIST_ITEMS]
        if any(not isinstance(item, str) for item in items):
            self._wrong(key, value, "a list of strings (non-string items dropped)")
        return tuple(item.strip() for item in items if isinstance(item, str) and item.strip())


Metric = tuple[str, str, float | str]
"""One model-index result: (dataset or task, metric name, value)."""


def _model_index(value: Any, findings: list[CardFinding]) -> tuple[str | None, tuple[Metric, ...]]:
    """``model-index``: the first entry's name and every (dataset or task, metric, value) result."""
    if value is None:
        return None, ()
    if not isinstance(value, list):
        findings.append(CardFinding("card-field-type", "low", "front matter 'model-index' is not a list"))
        return None, ()
    name: str | None = None
    metrics: list[Metric] = []
    for entry_index, entry in enumerate(value[:MAX_LIST_ITEMS]):
        if not isinstance(entry, dict):
            continue
        if entry_index == 0 and isinstance(entry.get("name"), str):
            name = entry["name"].strip() or None
        results = entry.get("results")
        for result in results if isinstance(results, list) else ():
            if not isinstance(result, dict):
                continue
            subject = _label(result.get("dataset")) or _label(result.get("task")) or "unknown"
            metric_list = result.get("metrics")
            for metric in metric_list if isinstance(metric_list, list) else ():
                if len(metrics) >= MAX_LIST_ITEMS:
                    findings.append(CardFinding("card-field-too-long", "low",
                                                f"model-index has more than {MAX_LIST_ITEMS} metrics; rest dropped"))
                    return name, tuple(metrics)
                if isinstance(metric, dict):
                    metric_name = _label(metric)
                    raw = metric.get("value")
                    if metric_name is not None and raw is not None:
                        metrics.append((subject, metric_name, _metric_value(raw)))
    return name, tuple(metrics)


def _label(node: Any) -> str | None:
    """The human label of a model-index node: its ``name``, else its ``type``."""
    if not isinstance(node, dict):
        return None
    for key in ("name", "type"):
        if isinstance(node.get(key), str) and node[key].strip():
            return str(node[key]).strip()
    return None


def _metric_value(raw: Any) -> float | str:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        try:
            return float(raw)
        except OverflowError:  # an enormous YAML integer; str() of it may itself be refused by Python
            return "integer too large"
    return str(raw)[:200] if isinstance(raw, (str, bool)) else type(raw).__name__


def _with_findings(card: ModelCard, extra: tuple[CardFinding, ...]) -> ModelCard:
    return replace(card, findings=card.findings + extra)
