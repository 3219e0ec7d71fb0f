"""The one layer the CLI, the Python API and the server call: every operation on the registry, by name.

``execute(name, values)`` runs one: on the embedded registry of this machine, or, when ``ASSAY_URL`` is set, on
that server as the holder of ``ASSAY_TOKEN`` (``_remote``). Either way the caller gets the same ``Result``: the
JSON document, its text rendering and the exit code. ``every()`` lists the operations the server serves.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from assay.errors import UsageError
from assay.services import _ops_events, _ops_governance, _ops_reads, _ops_registry, _ops_release  # noqa: F401
from assay.services._ops_audit import report_result
from assay.services._ops_registry import bom_result
from assay.services._table import OPERATIONS
from assay.services.interface import Context, Operation, Result, Right

__all__ = ["bom_result", "Context", "Operation", "Result", "Right", "build_params", "every", "execute", "find", "report_result", "server_url"]


def server_url() -> str | None:
    """``ASSAY_URL``: the team server this machine's commands go to (None: the embedded registry)."""
    return os.environ.get("ASSAY_URL") or None


def find(name: str) -> Operation:
    """The operation called ``name``."""
    try:
        return OPERATIONS[name]
    except KeyError:
        raise UsageError(f"no operation {name!r}") from None


def every() -> list[Operation]:
    """Every operation, in the order their modules add them (the server serves each)."""
    return list(OPERATIONS.values())


def build_params(op: Operation, values: dict[str, Any]) -> Any:
    """The operation's parameters from ``values`` (an argparse namespace's dict, or JSON): unknown keys are
    ignored, paths become strings."""
    given = {}
    for f in dataclasses.fields(op.params):
        if f.name in values and values[f.name] is not None:
            value = values[f.name]
            given[f.name] = str(value) if isinstance(value, Path) else value
    return op.params(**given)


def execute(name: str, values: dict[str, Any], *, actor: str | None = None) -> Result:
    """Run operation ``name`` with ``values``: against ``ASSAY_URL`` when set, else on the embedded registry with
    ``actor`` (``--actor``, else ``ASSAY_ACTOR``, else the OS user) acting."""
    op = find(name)
    params = build_params(op, values)
    actor = actor if op.writes else None  # a read acts as nobody (``audit log --actor`` is a filter)
    url = server_url()
    if url is not None:
        from assay.services._remote import Client

        if actor is not None:
            raise UsageError("--actor is not read against a server: who acts is the holder of ASSAY_TOKEN")
        with Client.from_environment(url) as client:
            return client.call(op, params)
    from assay.config import load_settings
    from assay.services._local import LocalContext

    with LocalContext(load_settings(actor)) as ctx:
        return op.run(ctx, params)
