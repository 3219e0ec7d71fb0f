"""JSON output (schema ``assay.scan/1.0``, documented in the README)."""

from __future__ import annotations

import json

from assay.scan.findings import ScanReport
from assay.scan.render.interface import Renderer


class JsonRenderer(Renderer):
    """Machine-readable report."""

    def render(self, report: ScanReport, *, color: bool = False) -> str:
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
