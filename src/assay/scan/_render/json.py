"""JSON output (schema ``assay.scan/1.0``, documented in docs/scan.md)."""

from __future__ import annotations

from assay.scan._findings import ScanReport
from assay.scan._render.interface import Renderer, json_text


class JsonRenderer(Renderer):
    """Machine-readable report."""

    def render(self, report: ScanReport, *, color: bool = False) -> str:
        return json_text(report.to_dict())
