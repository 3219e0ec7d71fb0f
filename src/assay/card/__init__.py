"""Model cards and licenses: what a model says it is, and what a team may do with it.

Public surface: ``card_and_license``, ``read_card``, ``parse_card_text``, ``detect_license``, ``classify_expression`` and the
value types ``ModelCard``, ``BaseModelRef``, ``CardFinding``, ``LicenseEvidence``, ``LicenseReport``,
``LicenseClass``.
"""

from __future__ import annotations

from pathlib import Path

from assay.card.card import MAX_CARD_BYTES, parse_card_text, read_card
from assay.card.interface import BaseModelRef, CardFinding, LicenseClass, LicenseEvidence, LicenseReport, ModelCard
from assay.card.license import CLASS_ORDER, classify_expression, detect_license


def card_and_license(path: Path) -> tuple[ModelCard, LicenseReport]:
    """The card and license of a model folder. A single model file has neither: its neighbours in the same
    folder (a Downloads folder, say) say nothing about it."""
    if path.is_dir():
        card = read_card(path)
        return card, detect_license(path, card)
    missing = CardFinding("card-missing", "info", f"{path.name} is a single file: no model card or license file")
    return ModelCard(findings=(missing,)), LicenseReport(None, "unknown", findings=(missing,))


__all__ = ["card_and_license", "read_card", "parse_card_text", "detect_license", "classify_expression", "ModelCard", "BaseModelRef",
           "CardFinding", "LicenseEvidence", "LicenseReport", "LicenseClass", "CLASS_ORDER", "MAX_CARD_BYTES"]
