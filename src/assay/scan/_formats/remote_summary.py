"""What the code a config names would call: the named ``.py`` file and the sibling modules it imports with
relative imports (transformers copies and imports those too), each analysed by ``python_source``."""

from __future__ import annotations

import os

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.python_source import CallGroup, analyse_python

_SHOWN = 5


def existing_file(root: str, files: tuple[str, ...]) -> str | None:
    """The first candidate that is a regular file under ``root`` (never outside it)."""
    real_root = os.path.realpath(root)
    for name in files:
        if name.startswith("/") or ".." in name.split("/"):
            continue
        path = os.path.realpath(os.path.join(root, *name.split("/")))
        if path.startswith(real_root + os.sep) and os.path.isfile(path):
            return name
    return None


def _read(root: str, name: str, ctx: ScanContext) -> bytes | None:
    path = os.path.join(root, *name.split("/"))
    limit = ctx.limits.max_source_bytes
    try:
        if os.path.getsize(path) > limit:
            ctx.error(f"{name}: Python source larger than max_source_bytes={limit}", "max_source_bytes")
            return None
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError as exc:
        ctx.error(f"{name}: cannot read the code this config names: {exc.strerror or exc}")
        return None


def _closure(root: str, target: str, ctx: ScanContext) -> tuple[list[tuple[str, CallGroup]], list[str], list[str]]:
    """(file, call) pairs of ``target`` and the siblings it imports; files read; files that do not parse."""
    calls: list[tuple[str, CallGroup]] = []
    todo, seen, broken = [target], [target], []
    limit = ctx.limits.max_remote_code_files
    folder = target.rpartition("/")[0]
    while todo:
        name = todo.pop(0)
        data = _read(root, name, ctx)
        if data is None:
            continue
        analysis = analyse_python(data, name, ctx.limits.max_python_nodes)
        if analysis.error is not None:
            broken.append(name)
        calls.extend((name, group) for group in analysis.calls)
        for module in analysis.relative_imports:
            sibling = existing_file(root, (f"{folder}/{module}.py" if folder else f"{module}.py",))
            if sibling is None or sibling in seen:
                continue
            if len(seen) >= limit:
                ctx.error(f"{target} imports more than max_remote_code_files={limit} modules; the rest were not "
                          "read", "max_remote_code_files")
                return calls, seen, broken
            seen.append(sibling)
            todo.append(sibling)
    return calls, seen, broken


def summarise(root: str | None, target: str, ctx: ScanContext) -> tuple[Severity, str, str | None]:
    """(worst severity of what the code calls, a one-line summary, the full list) for one named code file."""
    if root is None:
        return Severity.HIGH, "the code is not read here (the config is inside an archive)", None
    if existing_file(root, (target,)) is None:
        return Severity.HIGH, ("it is not in this folder: the loader fetches it from the model's repository "
                               "(not scanned)"), None
    calls, files, broken = _closure(root, target, ctx)
    also = f" (with {', '.join(files[1:4])}{', ...' if len(files) > 4 else ''})" if len(files) > 1 else ""
    notes = f"; assay cannot analyse {', '.join(broken)} (the loader's Python may run it)" if broken else ""
    if not calls:
        return Severity.HIGH, f"it{also} calls nothing assay lists as dangerous{notes}", None
    ranked = sorted(calls, key=lambda fc: (-fc[1].severity, fc[0] != target, fc[1].lines[0]))
    parts = [_call_text(name, group, target) for name, group in ranked]
    shown = ", ".join(parts[:_SHOWN]) + (f" and {len(parts) - _SHOWN} more" if len(parts) > _SHOWN else "")
    detail = "\n".join(f"{name}: {group.message()}" for name, group in ranked)
    return ranked[0][1].severity, f"it{also} calls {shown}{notes}", detail


def _call_text(name: str, group: CallGroup, target: str) -> str:
    where = f"line {group.lines[0]}" if name == target else f"{name} line {group.lines[0]}"
    return f"{group.target} ({where}, {group.severity.name.lower()})"
