"""License ids and expressions -> normalized SPDX expression, class and obligations.

Card ids (``apache-2.0``, ``llama3.1``, ``openrail++``) are first mapped through the hand table, then the
expression is parsed and normalized with ``license_expression.get_spdx_licensing()``. Each license's class
comes from the hand table (``catalog.py``) or, for other SPDX/ScanCode ids, from the ScanCode ``category``
in the index shipped with ``license_expression``. ``A OR B`` takes the most permissive option (the user may
choose it); ``A AND B`` takes the most restrictive and all obligations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import license_expression
from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol, Licensing

from assay.card._interface import CardFinding, LicenseClass, LicenseReport
from assay.card._license import catalog

MAX_EXPRESSION_CHARS = 2000
"""Longest license expression parsed (``max_expression_chars``); longer ones are refused with a finding."""

_CATEGORY_CLASS: dict[str, LicenseClass] = {
    "Permissive": "permissive", "Public Domain": "permissive", "Copyleft Limited": "weak-copyleft",
    "Copyleft": "strong-copyleft", "Free Restricted": "restricted-use", "Source-available": "restricted-use",
    "Non-Commercial": "non-commercial", "Proprietary Free": "proprietary", "Commercial": "proprietary",
}
"""ScanCode categories -> classes; CLA, Patent License and Unstated License say nothing about use: unknown."""
_CATEGORY_OBLIGATIONS: dict[str, tuple[str, ...]] = {
    "Permissive": ("attribution", "license-copy"), "Public Domain": (),
    "Copyleft Limited": ("source-disclosure", "share-alike-modifications", "license-copy"),
    "Copyleft": ("source-disclosure", "share-alike", "license-copy", "state-changes"),
    "Free Restricted": ("use-restrictions", "license-copy"), "Source-available": ("use-restrictions", "license-copy"),
    "Non-Commercial": ("no-commercial-use", "license-copy"), "Proprietary Free": ("use-restrictions", "license-copy"),
    "Commercial": ("use-restrictions", "license-copy"),
}
_SPLIT = re.compile(r"(\s+|\(|\))")


@dataclass(frozen=True)
class LicenseInfo:
    """What assay knows about one license id."""

    id: str
    license_class: LicenseClass
    obligations: tuple[str, ...]
    name: str | None


@lru_cache(maxsize=1)
def spdx_licensing() -> Licensing:
    """The SPDX licensing of the installed ``license_expression`` (built once)."""
    return license_expression.get_spdx_licensing()


@lru_cache(maxsize=1)
def scancode_categories() -> dict[str, str]:
    """SPDX or ScanCode LicenseRef id -> ScanCode category, from the index ``license_expression`` ships."""
    location = Path(license_expression.vendored_scancode_licensedb_index_location)
    index: list[dict[str, Any]] = json.loads(location.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for entry in index:
        category = entry.get("category")
        if not isinstance(category, str):
            continue
        for key in (entry.get("spdx_license_key"), *(entry.get("other_spdx_license_keys") or ())):
            if isinstance(key, str) and key:
                table.setdefault(key, category)
    return table


def license_info(license_id: str) -> LicenseInfo:
    """Class, obligations and name of one license id (hand table first, then ScanCode categories)."""
    entry = catalog.by_id().get(license_id) or catalog.lookup(license_id)
    if entry is not None:
        return LicenseInfo(entry.id, entry.license_class, entry.obligations, entry.name)
    base = license_id[:-1] if license_id.endswith("+") else license_id
    category = scancode_categories().get(base)
    if category is None:
        return LicenseInfo(license_id, "unknown", (), None)
    upper = base.upper()
    cls: LicenseClass = _CATEGORY_CLASS.get(category, "unknown")
    obligations = _CATEGORY_OBLIGATIONS.get(category, ())
    if "-NC-" in upper + "-" or "NONCOMMERCIAL" in upper:
        cls, obligations = "non-commercial", obligations + ("no-commercial-use",)
    elif upper.startswith("AGPL"):
        cls, obligations = "network-copyleft", obligations + ("network-source",)
    return LicenseInfo(base, cls, obligations, None)


def rank(license_class: LicenseClass) -> int:
    """Position of a class in ``CLASS_ORDER`` (0 = most freely usable)."""
    return catalog.CLASS_ORDER.index(license_class)


def normalize_expression(expression: str, *, max_expression_chars: int = MAX_EXPRESSION_CHARS
                         ) -> tuple[Any | None, list[CardFinding]]:
    """Parse a card id or SPDX expression into a ``license_expression`` tree; problems become findings."""
    text = expression.strip()
    if not text:
        return None, [CardFinding("license-expression-invalid", "medium", "empty license expression")]
    if len(text) > max_expression_chars:
        return None, [CardFinding("license-expression-invalid", "medium",
                                  f"license expression longer than {max_expression_chars} characters")]
    whole = catalog.lookup(text)
    if whole is not None:  # names with spaces or '++' ("llama 3.1", "openrail++") are one license, not an expression
        text = whole.id
    else:
        parts = []
        for part in _SPLIT.split(text):
            if part.lower() in ("and", "or", "with"):
                parts.append(part.upper())
            else:
                entry = catalog.lookup(part) if part.strip() and part not in "()" else None
                parts.append(entry.id if entry is not None else part)
        text = "".join(parts)
    try:
        parsed = spdx_licensing().parse(text, validate=False, simple=False)
    except (license_expression.ExpressionError, RecursionError, ValueError, TypeError, AttributeError, IndexError,
            KeyError) as exc:  # boolean.py fails on some garbage (e.g. "()") with plain IndexError
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return None, [CardFinding("license-expression-invalid", "medium",
                                  f"cannot parse license expression {expression.strip()[:100]!r}: {first}")]
    if parsed is None:
        return None, [CardFinding("license-expression-invalid", "medium", "empty license expression")]
    return parsed, []


def _evaluate(node: Any) -> tuple[LicenseClass, tuple[str, ...], list[str]]:
    """(class, obligations, unknown ids) of a parsed expression."""
    if isinstance(node, LicenseWithExceptionSymbol):
        # an exception narrows the license's duties; the base license still decides the class
        return _evaluate(node.license_symbol)
    if isinstance(node, LicenseSymbol):
        info = license_info(node.key)
        return info.license_class, info.obligations, ([node.key] if info.license_class == "unknown" else [])
    if isinstance(node, (AND, OR)):
        results = [_evaluate(arg) for arg in node.args]
        unknown = [key for result in results for key in result[2]]
        if isinstance(node, OR):
            best = min(results, key=lambda result: rank(result[0]))
            return best[0], best[1], unknown
        worst = max(results, key=lambda result: rank(result[0]))
        obligations = tuple(dict.fromkeys(o for result in results for o in result[1]))
        return worst[0], obligations, unknown
    return "unknown", (), [str(node)]


def keys_of(parsed: Any) -> list[str]:
    """The license ids named in a parsed expression (exceptions left out)."""
    return [symbol.key for symbol in spdx_licensing().license_symbols(parsed, decompose=True)
            if not getattr(symbol, "is_exception", False)]


def report_for(parsed: Any, findings: list[CardFinding] | None = None) -> LicenseReport:
    """The ``LicenseReport`` of a parsed expression (no evidence attached)."""
    findings = list(findings or [])
    try:
        cls, obligations, unknown = _evaluate(parsed)
        rendered = parsed.render()
    except RecursionError:
        findings.append(CardFinding("license-expression-invalid", "medium", "license expression nested too deeply"))
        return LicenseReport(expression=None, license_class="unknown", findings=tuple(findings))
    for key in dict.fromkeys(unknown):
        findings.append(CardFinding("license-unknown-id", "medium", f"license id {key!r} is not one assay knows"))
    name = license_info(parsed.key).name if isinstance(parsed, LicenseSymbol) else None
    return LicenseReport(expression=rendered, license_class=cls, obligations=obligations, name=name,
                         findings=tuple(findings))


def classify_expression(expression: str, *, max_expression_chars: int = MAX_EXPRESSION_CHARS) -> LicenseReport:
    """Normalize and classify a bare license id or SPDX expression (``assay license apache-2.0``)."""
    if expression.strip().lower() in catalog.UNKNOWN_IDS:
        finding = CardFinding("license-other", "medium", f"{expression.strip()!r} names no particular license")
        return LicenseReport(expression=None, license_class="unknown", findings=(finding,))
    parsed, findings = normalize_expression(expression, max_expression_chars=max_expression_chars)
    if parsed is None:
        return LicenseReport(expression=None, license_class="unknown", findings=tuple(findings))
    return report_for(parsed, findings)
