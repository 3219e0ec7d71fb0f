"""What a model says it is (its card) and what a team may do with it (its license): value types.

The parsers live beside this file (``card.py`` for Hugging Face model cards, ``license/`` for license
detection and classification). These types are what the registry, the BOM and the policies read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LicenseClass = Literal["permissive", "weak-copyleft", "strong-copyleft", "network-copyleft", "restricted-use",
                       "non-commercial", "proprietary", "unknown"]
"""The license classes, from most to least freely usable, ``unknown`` last."""


@dataclass(frozen=True)
class CardFinding:
    """Something wrong or worth knowing about a card or a license (malformed front matter, disagreement)."""

    code: str           # short stable id, e.g. "card-malformed-yaml", "license-mismatch"
    severity: Literal["high", "medium", "low", "info"]
    message: str        # one line


@dataclass(frozen=True)
class BaseModelRef:
    """One base model named by the card: ``base_model`` with its ``base_model_relation``."""

    name: str                   # e.g. "nreimers/MiniLM-L6-H384-uncased"
    relation: str | None = None  # adapter | merge | quantized | finetune | None when the card does not say


@dataclass(frozen=True)
class ModelCard:
    """The Hugging Face model card of a folder (README.md front matter plus free text)."""

    path: str | None = None                 # the card file relative to the model folder, None when absent
    license: str | None = None              # front matter `license` as written (e.g. "apache-2.0", "other")
    license_name: str | None = None
    license_link: str | None = None
    base_models: tuple[BaseModelRef, ...] = ()
    datasets: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    library_name: str | None = None
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metrics: tuple[tuple[str, str, float | str], ...] = ()  # (task or dataset, metric name, value) from model-index
    model_name: str | None = None          # model-index[0].name when given
    summary: str | None = None             # first paragraph of the free text, at most 500 characters
    text: str = ""                          # the free text after the front matter
    findings: tuple[CardFinding, ...] = ()


@dataclass(frozen=True)
class LicenseEvidence:
    """Where a license statement was found and what it was read as."""

    source: str          # "card" or a file path relative to the model folder ("LICENSE", "NOTICE", ...)
    spdx: str            # SPDX id or LicenseRef-<Hugging Face id> (e.g. LicenseRef-llama3.1)
    confidence: float    # 0..1; 1.0 for an exact card id, the text similarity for files


@dataclass(frozen=True)
class LicenseReport:
    """The license of a model: normalized expression, class, obligations and the evidence behind them."""

    expression: str | None                 # normalized SPDX expression or LicenseRef id; None when nothing found
    license_class: LicenseClass
    obligations: tuple[str, ...] = ()      # short stable tags: "attribution", "notice", "share-alike",
    #   "network-source", "acceptable-use-policy", "user-cap-700m-mau", "naming-duty", "no-commercial-use",
    #   "use-restrictions", "license-copy", ...
    name: str | None = None                # human name, e.g. "Llama 3.1 Community License"
    evidence: tuple[LicenseEvidence, ...] = ()
    findings: tuple[CardFinding, ...] = field(default=())
