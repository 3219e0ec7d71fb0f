"""Report renderers: ``renderer_for(name)`` returns the renderer of a format, imported on first use."""

from __future__ import annotations

import importlib

from assay.scan._render.interface import Renderer

FORMATS = {"text": "text:TextRenderer", "json": "json:JsonRenderer", "sarif": "sarif:SarifRenderer"}


def renderer_for(name: str) -> Renderer:
    """The renderer for ``text``, ``json`` or ``sarif``."""
    module, cls = FORMATS[name].split(":")
    return getattr(importlib.import_module(f"assay.scan._render.{module}"), cls)()


__all__ = ["FORMATS", "Renderer", "renderer_for"]
