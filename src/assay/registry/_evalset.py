"""The ``eval-set`` artifact: evaluation results a gate reads, validated when added and again when judged.

Format (JSON)::

    {"results": [{"name": "toxicity", "metric": "rate", "value": 0.01, "threshold": 0.05,
                  "higher_is_better": false}, ...]}

``results`` is a non-empty list; each result has a non-empty string ``name``, a string ``metric`` (optional),
numbers ``value`` and ``threshold`` (not booleans), and ``higher_is_better`` (true when left out). Anything else
is refused at ``assay artifact add`` and, should such a blob reach a gate another way, read as a failed
evaluation, never as no evaluation (``evals-pass`` would then pass on nothing).
"""

from __future__ import annotations

import json
from typing import Any

from assay.errors import InputError

MAX_EVAL_RESULTS = 10_000
"""Results one eval-set may hold."""


def read_eval_set(data: bytes) -> list[dict[str, Any]]:
    """The results of an eval-set, each with ``passed`` worked out; InputError naming the first problem."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list) or not results:
        raise InputError('needs {"results": [...]} with at least one result')
    if len(results) > MAX_EVAL_RESULTS:
        raise InputError(f"holds {len(results)} results, over MAX_EVAL_RESULTS ({MAX_EVAL_RESULTS})")
    out = []
    for i, result in enumerate(results):
        where = f"results[{i}]"
        if not isinstance(result, dict):
            raise InputError(f"{where} is not an object")
        name, metric = result.get("name"), result.get("metric", "")
        value: Any = result.get("value")
        threshold: Any = result.get("threshold")
        higher = result.get("higher_is_better", True)
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{where}.name must be a non-empty string")
        if not isinstance(metric, str):
            raise InputError(f"{where}.metric must be a string")
        for key, number in (("value", value), ("threshold", threshold)):
            if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
                raise InputError(f"{where}.{key} must be a number")
        if not isinstance(higher, bool):
            raise InputError(f"{where}.higher_is_better must be true or false")
        number, bound = float(value), float(threshold)  # both checked to be numbers just above
        out.append({"name": name, "metric": metric, "value": value, "threshold": threshold,
                    "passed": number >= bound if higher else number <= bound})
    return out
