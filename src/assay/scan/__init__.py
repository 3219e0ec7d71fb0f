"""The model-file scanner: tells whether loading a file can run code, without loading it.

Public surface: ``scan``, ``load_scan_config`` and ``find_config_file`` (``assay.toml``), the value types ``ScanConfig``, ``ScanReport``, ``FileReport``, ``Finding``,
``Location``, ``ScanError``, ``Severity``, ``ScanLimits``, and, imported on first use, ``renderer_for``
and ``Renderer`` (text, JSON and SARIF reports) and ``RULES`` (every rule, by id) with ``Rule``.
Everything else here is private to the scanner (modules and packages named ``_*``).
Never imports torch, numpy or tensorflow; never unpickles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from assay._lazy import lazy_exports
from assay.scan._config import ScanConfig, find_config_file, load_scan_config
from assay.scan._findings import FileReport, Finding, Location, ScanError, ScanReport, Severity
from assay.scan._limits import ScanLimits

TYPE_CHECKING = False  # typing costs start-up time; these names are imported on first use (``__getattr__``)
if TYPE_CHECKING:
    from assay.scan._render import Renderer, renderer_for
    from assay.scan._rules import RULES, Rule


def scan(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, fail_on: Severity | str | None = None,
         strict: bool = False, allow: Iterable[str] = (), limits: ScanLimits | None = None,
         config: ScanConfig | None = None, on_file: Callable[[str], None] | None = None,
         jobs: int | None = None) -> ScanReport:
    """Scan files, folders (recursively) and archives for anything that runs code when loaded.

    ``fail_on`` sets which findings make ``report.exit_code`` 1 (default: the config's, else high);
    ``strict`` also fails on medium findings (the same as ``fail_on="medium"`` when that is
    stricter). A callable that is not on the allow-list is high with or without it (default deny); ``allow`` adds ``MODULE.NAME`` entries (or
    ``MODULE.*``) to the allow-list (it cannot silence a callable on the dangerous table).
    A ``config`` (from ``load_scan_config``) supplies all of these at once; explicit
    arguments are merged into it. ``jobs`` processes scan files side by side (default: the config's,
    else 0: one per CPU when the scan is big enough to pay for them, see ``assay.scan._parallel``; 1 scans in
    this process). ``on_file(path)`` is called as each file is taken (one
    process) or completed (several).
    """
    from assay._version import __version__
    from assay.scan._walk import scan_paths

    base = config or ScanConfig()
    level = Severity.parse(fail_on) if isinstance(fail_on, str) else fail_on
    merged = ScanConfig(
        fail_on=_strictest(base.fail_on if level is None else level, strict or base.strict),
        strict=strict or base.strict,
        allow=base.allow | frozenset(allow),
        limits=limits or base.limits,
        skip_dirs=base.skip_dirs,
        jobs=base.jobs if jobs is None else jobs,
    )
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return scan_paths(items, merged, __version__, on_file)


def _strictest(level: Severity, strict: bool) -> Severity:
    return min(level, Severity.MEDIUM) if strict else level


# Names whose modules a scan does not need: imported when first asked for, so start-up stays small.
_LAZY = {"renderer_for": "_render", "Renderer": "_render",
         "RULES": "_rules", "Rule": "_rules"}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["scan", "ScanConfig", "load_scan_config", "find_config_file", "ScanReport", "FileReport", "Finding", "Location", "ScanError", "Severity",
           "ScanLimits", "renderer_for", "Renderer", "RULES", "Rule"]
