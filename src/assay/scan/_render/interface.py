"""The renderer interface: a ScanReport in, text out."""

from __future__ import annotations

from abc import ABC, abstractmethod

from assay.scan._findings import ScanReport


class Renderer(ABC):
    """Turns a report into one output format."""

    @abstractmethod
    def render(self, report: ScanReport, *, color: bool = False) -> str:
        """The whole document."""


def json_text(document: object) -> str:
    """``document`` as indented JSON text that is valid UTF-8 whatever the file names were: a name that is not
    UTF-8 reaches Python with its bytes as lone surrogates, written here as ``\\udcXX`` escapes."""
    import json

    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
