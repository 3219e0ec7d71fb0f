"""License detection and classification: card ids and license texts -> SPDX expression, class, obligations.

Public surface: ``detect_license``, ``classify_expression``, ``KNOWN`` (the hand table) and the limits.
"""

from __future__ import annotations

from assay.card._license.catalog import CLASS_ORDER, KNOWN, KnownLicense
from assay.card._license.classify import MAX_EXPRESSION_CHARS, classify_expression, spdx_licensing
from assay.card._license.detect import MAX_LICENSE_BYTES, MAX_LICENSE_FILES, detect_license
from assay.card._license.textmatch import MIN_SIMILARITY, TextMatch, best_match

__all__ = ["detect_license", "classify_expression", "spdx_licensing", "best_match", "TextMatch", "KNOWN", "KnownLicense",
           "CLASS_ORDER", "MAX_EXPRESSION_CHARS", "MAX_LICENSE_BYTES", "MAX_LICENSE_FILES", "MIN_SIMILARITY"]
