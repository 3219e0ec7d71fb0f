"""The one table of operations: each ``_ops_*`` module adds its own with ``operation``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assay.services.interface import Context, Operation, Result, Right

OPERATIONS: dict[str, Operation] = {}
"""Every operation by name, in the order the modules add them."""


def operation(name: str, summary: str, params: type, right: Right, *, uploads: tuple[str, ...] = (),
              writes: bool = False, downloads: tuple[str, ...] = ()) -> Callable[[Callable[[Context, Any], Result]], Callable[[Context, Any], Result]]:
    """Add the decorated ``run(ctx, params) -> Result`` to ``OPERATIONS`` under ``name``."""

    def add(run: Callable[[Context, Any], Result]) -> Callable[[Context, Any], Result]:
        OPERATIONS[name] = Operation(name, summary, params, right, run, uploads, writes, downloads)
        return run

    return add
