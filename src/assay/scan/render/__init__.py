"""Report renderers: ``RENDERERS`` maps a format name to its renderer."""

from __future__ import annotations

from assay.scan.render.interface import Renderer
from assay.scan.render.json import JsonRenderer
from assay.scan.render.sarif import SarifRenderer
from assay.scan.render.text import TextRenderer

RENDERERS: dict[str, Renderer] = {"text": TextRenderer(), "json": JsonRenderer(), "sarif": SarifRenderer()}

__all__ = ["RENDERERS", "Renderer"]
