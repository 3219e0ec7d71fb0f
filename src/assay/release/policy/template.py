"""Rule message templates: ``"scan verdict is {{ evidence.scan.verdict }}"``.

A placeholder is ``{{ path }}`` where ``path`` is a variable name (``evidence``, ``environment``,
``risk_tier``, ``now``) followed by dotted segments; a segment of digits indexes a list. Nothing is
evaluated, so a message can never fail or run code: a path that does not resolve renders as
``<missing>``. Any other ``{{`` or ``}}`` is a load-time error.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_-]*|[0-9]+))*)\s*\}\}")
MAX_RENDERED_VALUE_CHARS = 200
"""A rendered placeholder value is cut to this many characters so a huge evidence value cannot flood a report."""
MISSING = "<missing>"
"""What a placeholder whose path does not resolve renders as."""


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a valid message template, or None when it is."""
    rest = _PLACEHOLDER.sub("", template)
    if "{{" in rest or "}}" in rest:
        return "message has a malformed placeholder; write {{ evidence.some.field }}"
    return None


def render_template(template: str, variables: dict[str, Any]) -> str:
    """The template with every placeholder replaced by the value at its path in ``variables``."""
    return _PLACEHOLDER.sub(lambda m: _show(_lookup(variables, m.group(1).split("."))), template)


def _lookup(value: Any, path: list[str]) -> Any:
    for segment in path:
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, (list, tuple)) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _Missing
    return value


class _Missing:
    """Sentinel for a path that does not resolve (distinct from a JSON null)."""


def _show(value: Any) -> str:
    if value is _Missing:
        return MISSING
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError, RecursionError):  # keys that JSON cannot hold, cycles
            text = repr(value)
    if len(text) > MAX_RENDERED_VALUE_CHARS:
        text = text[:MAX_RENDERED_VALUE_CHARS] + "..."
    return text
