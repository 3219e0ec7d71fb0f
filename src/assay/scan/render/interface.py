"""The renderer interface: a ScanReport in, text out."""

from __future__ import annotations

from abc import ABC, abstractmethod

from assay.scan.findings import ScanReport


class Renderer(ABC):
    """Turns a report into one output format."""

    @abstractmethod
    def render(self, report: ScanReport, *, color: bool = False) -> str:
        """The whole document."""
