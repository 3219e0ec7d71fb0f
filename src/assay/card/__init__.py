"""Model cards and licenses: what a model says it is, and what a team may do with it.

Public surface: ``card_and_license``, ``read_card``, ``parse_card_text``, ``detect_license``, ``classify_expression``,
``spdx_licensing``, ``best_match`` and the value types ``ModelCard``, ``BaseModelRef``, ``CardFinding``,
``LicenseEvidence``, ``LicenseReport``, ``LicenseClass``, ``TextMatch``, with the limits. Other domains import
these from ``assay.card`` only.
"""

from __future__ import annotations

from pathlib import Path

from assay.card._card import MAX_CARD_BYTES, parse_card_text, read_card
from assay.card._interface import BaseModelRef, CardFinding, LicenseClass, LicenseEvidence, LicenseReport, ModelCard
from assay.card._license import (
    CLASS_ORDER,
    MAX_LICENSE_BYTES,
    TextMatch,
    best_match,
    classify_expression,
    detect_license,
    spdx_licensing,
)


def card_and_license(path: Path) -> tuple[ModelCard, LicenseReport]:
    """The card and license of a model folder. A single model file has neither: its neighbours in the same
    folder (a Downloads folder, say) say nothing about it."""
    if path.is_dir():
        card = read_card(path)
        return card, detect_license(path, card)
    missing = CardFinding("card-missing", "info", f"{path.name} is a single file: no model card or license file")
    return ModelCard(findings=(missing,)), LicenseReport(None, "unknown", findings=(missing,))


__all__ = ["card_and_license", "read_card", "parse_card_text", "detect_license", "classify_expression", "spdx_licensing",
           "best_match", "ModelCard", "BaseModelRef", "CardFinding", "LicenseEvidence", "LicenseReport", "LicenseClass",
           "TextMatch", "CLASS_ORDER", "MAX_CARD_BYTES", "MAX_LICENSE_BYTES"]
