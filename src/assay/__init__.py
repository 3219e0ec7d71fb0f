"""assay: inspect, hash, sign, register and gate open-source AI models before anyone loads them.

The public Python API is small: ``assay.scan(path) -> ScanReport``.
"""

from __future__ import annotations

__version__ = "0.1.0"

# The subpackage assay.scan is imported here once (it needs only the standard library) and its
# function then takes the attribute's place, so `assay.scan(...)` is the scanner entry point.
from assay.scan import FileReport, Finding, ScanReport, Severity, scan  # noqa: E402

__all__ = ["__version__", "scan", "ScanReport", "FileReport", "Finding", "Severity"]
