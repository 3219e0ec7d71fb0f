"""CycloneDX 1.6 ML-BOM of a model version: its files, datasets, base models, licenses and assay's facts.

Public surface: ``build_bom``, ``bom_json``, ``BomInput``, ``BomDataset``.
"""

from __future__ import annotations

from assay.bom._cyclonedx import bom_json, build_bom
from assay.bom._interface import BomDataset, BomInput

__all__ = ["build_bom", "bom_json", "BomInput", "BomDataset"]
