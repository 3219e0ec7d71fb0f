"""``ScanConfig``: how a scan judges what it finds (``assay.config.load_scan_config`` reads it from a file)."""

from __future__ import annotations

from dataclasses import dataclass

from assay.scan._findings import Severity
from assay.scan._limits import ScanLimits


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """How a scan judges what it finds."""

    fail_on: Severity = Severity.HIGH
    strict: bool = False
    allow: frozenset[str] = frozenset()
    limits: ScanLimits = ScanLimits()
    skip_dirs: frozenset[str] = frozenset({".git", ".hg", ".svn", "__pycache__"})
    jobs: int = 0
    """Processes that scan files side by side; 0: one per usable CPU when the scan pays for them
    (``assay.scan._parallel.worker_count``)."""
