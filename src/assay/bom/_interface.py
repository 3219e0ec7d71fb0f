"""What a BOM is built from: everything assay knows of one registered model version, as plain values.

The BOM writers (one module per format; ``cyclonedx.py`` today) read only these types, so the
registry, the CLI and the tests can build a BOM without a database or a model folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the field types; the BOM never calls into the card parsers or the hashing engine
    from assay.card import LicenseReport, ModelCard
    from assay.manifest import Manifest

MAX_VERSION_CHARS = 1024
"""Longest version label a BOM may carry; CycloneDX 1.6 caps ``version`` at 1024 characters."""


@dataclass(frozen=True)
class BomDataset:
    """A dataset the model was trained or evaluated on, with what is known about it.

    ``digest`` is ``<algorithm>:<hex>`` (``sha256:...``, ``blake2b:...``, ``blake3:...``) when the
    dataset's bytes were hashed; ``license`` is an SPDX id, a ``LicenseRef-...`` id or an SPDX expression.
    """

    name: str
    version: str | None = None
    source_url: str | None = None
    license: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class BomInput:
    """One model version as the BOM describes it.

    ``name`` and ``version`` are the registry's name and version label; ``identity`` is the OMS manifest
    root digest ``sha256:<hex>`` and must be the manifest's own identity. ``publisher`` and ``revision``
    (the Hugging Face hub owner and commit) together give the model a ``pkg:huggingface`` purl.
    ``properties`` are further assay facts (scan verdict, signature status, risk tier, ...) as
    ``(name, value)`` pairs; names without the ``assay:`` prefix get it.
    """

    name: str
    version: str
    identity: str
    manifest: Manifest
    card: ModelCard | None = None
    license: LicenseReport | None = None
    publisher: str | None = None
    source_url: str | None = None
    revision: str | None = None
    datasets: tuple[BomDataset, ...] = ()
    intended_use: str | None = None
    properties: tuple[tuple[str, str], ...] = ()
