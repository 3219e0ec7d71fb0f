"""The model-file scanner: tells whether loading a file can run code, without loading it.

Public surface: ``scan``, ``ScanReport``, ``FileReport``, ``Finding``, ``Severity``, ``ScanLimits``.
Never imports torch, numpy or tensorflow; never unpickles.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from collections.abc import Callable

from assay.config import ScanConfig
from assay.scan.findings import FileReport, Finding, Location, ScanError, ScanReport, Severity
from assay.scan.limits import ScanLimits


def scan(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, fail_on: Severity | str | None = None,
         strict: bool = False, allow: Iterable[str] = (), limits: ScanLimits | None = None,
         config: ScanConfig | None = None, on_file: Callable[[str], None] | None = None,
         jobs: int | None = None) -> ScanReport:
    """Scan files, folders (recursively) and archives for anything that runs code when loaded.

    ``fail_on`` sets which findings make ``report.exit_code`` 1 (default: the config's, else high);
    ``strict`` also fails on medium findings (the same as ``fail_on="medium"`` when that is
    stricter). A callable that is not on the allow-list is high with or without it (default deny); ``allow`` adds ``MODULE.NAME`` entries (or
    ``MODULE.*``) to the allow-list (it cannot silence a callable on the dangerous table).
    A ``config`` (from ``assay.config.load_scan_config``) supplies all of these at once; explicit
    arguments are merged into it. ``jobs`` processes scan files side by side (default: the config's,
    else 0: one per CPU when the scan is big enough to pay for them, see ``assay.scan.parallel``; 1 scans in
    this process). ``on_file(path)`` is called as each file is taken (one
    process) or completed (several).
    """
    from assay import __version__
    from assay.scan.walk import scan_paths

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


__all__ = ["scan", "ScanReport", "FileReport", "Finding", "Location", "ScanError", "Severity", "ScanLimits"]
