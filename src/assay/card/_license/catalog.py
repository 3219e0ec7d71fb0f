"""The hand table of licenses assay knows by name: id, class, obligations and the names cards use for them.

SPDX ids are used whenever the SPDX list (as shipped in ``license_expression``'s index) has the license.
Model licenses that SPDX does not list get stable ``LicenseRef-<hf id>`` ids named after the Hugging Face
card id (``LicenseRef-llama3.1``); the ScanCode LicenseRef for the same license is kept as an alias so
expressions written by ScanCode-based tools map onto the same entry. Text signatures live in
``signatures.py``; the class and obligations of SPDX licenses not listed here come from ScanCode categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from assay.card._interface import LicenseClass

CLASS_ORDER: tuple[LicenseClass, ...] = ("permissive", "weak-copyleft", "strong-copyleft", "network-copyleft",
                                         "restricted-use", "non-commercial", "proprietary", "unknown")
"""License classes from most to least freely usable; OR picks the lowest rank, AND the highest."""


@dataclass(frozen=True)
class KnownLicense:
    """One license assay classifies by hand."""

    id: str                          # SPDX id or LicenseRef-... id
    name: str                        # human name
    license_class: LicenseClass
    obligations: tuple[str, ...]
    aliases: tuple[str, ...] = ()    # lowercase card ids / license_name values / ScanCode LicenseRefs
    links: tuple[str, ...] = ()      # lowercase URL fragments a card's license_link may point at


_PERMISSIVE = ("attribution", "license-copy")
_APACHE = ("attribution", "notice", "license-copy", "state-changes")
_CC_BY = ("attribution", "state-changes", "license-link")
_GPL = ("source-disclosure", "share-alike", "license-copy", "state-changes")
_WEAK = ("source-disclosure", "share-alike-modifications", "license-copy")
_LLAMA_BASE = ("acceptable-use-policy", "user-cap-700m-mau", "license-copy", "notice")
_LLAMA3 = _LLAMA_BASE + ("naming-duty",)
_RAIL = ("use-restrictions", "pass-on-restrictions", "license-copy", "state-changes")


def _k(id_: str, name: str, cls: LicenseClass, obligations: tuple[str, ...], *aliases: str,
       links: tuple[str, ...] = ()) -> KnownLicense:
    return KnownLicense(id_, name, cls, obligations, tuple(a.lower() for a in aliases), links)


KNOWN: tuple[KnownLicense, ...] = (
    # --- open-source licenses (SPDX ids) ---
    _k("Apache-2.0", "Apache License 2.0", "permissive", _APACHE, "apache 2.0", "apache", "apache license 2.0",
       links=("apache.org/licenses/license-2.0",)),
    _k("MIT", "MIT License", "permissive", _PERMISSIVE, "mit license", links=("opensource.org/licenses/mit",)),
    _k("BSD-2-Clause", "BSD 2-Clause License", "permissive", _PERMISSIVE),
    _k("BSD-3-Clause", "BSD 3-Clause License", "permissive", _PERMISSIVE + ("no-endorsement",)),
    _k("ISC", "ISC License", "permissive", _PERMISSIVE),
    _k("Unlicense", "The Unlicense", "permissive", ()),
    _k("CC0-1.0", "Creative Commons Zero v1.0 Universal", "permissive", ()),
    _k("CC-BY-4.0", "Creative Commons Attribution 4.0", "permissive", _CC_BY),
    _k("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0", "strong-copyleft", _CC_BY + ("share-alike",)),
    _k("CC-BY-ND-4.0", "Creative Commons Attribution-NoDerivatives 4.0", "restricted-use",
       _CC_BY + ("no-derivatives",)),
    _k("CC-BY-NC-4.0", "Creative Commons Attribution-NonCommercial 4.0", "non-commercial",
       _CC_BY + ("no-commercial-use",)),
    _k("CC-BY-NC-SA-4.0", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "non-commercial",
       _CC_BY + ("no-commercial-use", "share-alike")),
    _k("CC-BY-NC-ND-4.0", "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0", "non-commercial",
       _CC_BY + ("no-commercial-use", "no-derivatives")),
    _k("GPL-2.0-only", "GNU General Public License v2.0 only", "strong-copyleft", _GPL),
    _k("GPL-2.0-or-later", "GNU General Public License v2.0 or later", "strong-copyleft", _GPL),
    _k("GPL-3.0-only", "GNU General Public License v3.0 only", "strong-copyleft", _GPL),
    _k("GPL-3.0-or-later", "GNU General Public License v3.0 or later", "strong-copyleft", _GPL),
    _k("LGPL-2.1-only", "GNU Lesser General Public License v2.1 only", "weak-copyleft", _WEAK + ("allow-relinking",)),
    _k("LGPL-2.1-or-later", "GNU Lesser General Public License v2.1 or later", "weak-copyleft",
       _WEAK + ("allow-relinking",)),
    _k("LGPL-3.0-only", "GNU Lesser General Public License v3.0 only", "weak-copyleft", _WEAK + ("allow-relinking",)),
    _k("LGPL-3.0-or-later", "GNU Lesser General Public License v3.0 or later", "weak-copyleft",
       _WEAK + ("allow-relinking",)),
    _k("MPL-2.0", "Mozilla Public License 2.0", "weak-copyleft", _WEAK),
    _k("EPL-2.0", "Eclipse Public License 2.0", "weak-copyleft", _WEAK),
    _k("AGPL-3.0-only", "GNU Affero General Public License v3.0 only", "network-copyleft", _GPL + ("network-source",)),
    _k("AGPL-3.0-or-later", "GNU Affero General Public License v3.0 or later", "network-copyleft",
       _GPL + ("network-source",)),
    # --- Meta Llama ---
    _k("LicenseRef-llama2", "Llama 2 Community License", "restricted-use", _LLAMA_BASE + ("no-training-other-llms",),
       "llama2", "llama-2", "llama 2", "llama2-community", "LicenseRef-scancode-llama-2-license-2023",
       links=("ai.meta.com/llama/license", "llama-2")),
    _k("LicenseRef-llama3", "Meta Llama 3 Community License", "restricted-use", _LLAMA3, "llama3", "llama-3",
       "llama 3", "meta-llama-3", "LicenseRef-scancode-llama-3-license-2024",
       links=("llama.meta.com/llama3/license", "llama3/license")),
    _k("LicenseRef-llama3.1", "Llama 3.1 Community License", "restricted-use", _LLAMA3, "llama3.1", "llama-3.1",
       "llama 3.1", "LicenseRef-scancode-llama-3.1-license-2024", links=("llama3_1/license", "llama3.1")),
    _k("LicenseRef-llama3.2", "Llama 3.2 Community License", "restricted-use",
       _LLAMA3 + ("eu-multimodal-restriction",), "llama3.2", "llama-3.2", "llama 3.2",
       "LicenseRef-scancode-llama-3.2-license-2024", links=("llama3_2/license", "llama3.2")),
    _k("LicenseRef-llama3.3", "Llama 3.3 Community License", "restricted-use", _LLAMA3, "llama3.3", "llama-3.3",
       "llama 3.3", "LicenseRef-scancode-llama-3.3-license-2024", links=("llama3_3/license", "llama3.3")),
    _k("LicenseRef-llama4", "Llama 4 Community License", "restricted-use", _LLAMA3 + ("eu-multimodal-restriction",),
       "llama4", "llama-4", "llama 4", "LicenseRef-scancode-llama-4-license-2025",
       links=("llama4/license", "llama-4")),
    # --- Google Gemma ---
    _k("LicenseRef-gemma", "Gemma Terms of Use", "restricted-use",
       ("acceptable-use-policy", "use-restrictions", "pass-on-restrictions", "notice", "license-copy",
        "state-changes", "remote-restriction"),
       "gemma", "gemma-terms-of-use", "gemma terms of use", "LicenseRef-scancode-gemma-tou-2024-04-01",
       links=("ai.google.dev/gemma/terms",)),
    # --- Responsible AI licenses ---
    _k("LicenseRef-openrail", "Open RAIL License", "restricted-use", _RAIL, "openrail", "open-rail"),
    _k("LicenseRef-openrail-m", "Open RAIL-M License", "restricted-use", _RAIL, "openrail-m", "open-rail-m"),
    _k("LicenseRef-openrail++", "CreativeML Open RAIL++-M License", "restricted-use", _RAIL, "openrail++",
       "creativeml-openrail++-m", "openrail++-m"),
    _k("LicenseRef-creativeml-openrail-m", "CreativeML Open RAIL-M License", "restricted-use", _RAIL,
       "creativeml-openrail-m", "creativeml open rail-m"),
    _k("LicenseRef-bigscience-openrail-m", "BigScience Open RAIL-M License", "restricted-use", _RAIL,
       "bigscience-openrail-m", "LicenseRef-scancode-bigscience-open-rail-m",
       "LicenseRef-scancode-bigscience-open-rail-m2"),
    _k("LicenseRef-bigscience-bloom-rail-1.0", "BigScience BLOOM RAIL License v1.0", "restricted-use", _RAIL,
       "bigscience-bloom-rail-1.0", "bloom-rail-1.0", "LicenseRef-scancode-bigscience-rail-1.0"),
    _k("LicenseRef-bigcode-openrail-m", "BigCode Open RAIL-M v1 License", "restricted-use", _RAIL,
       "bigcode-openrail-m", "LicenseRef-scancode-bigcode-open-rail-m-v1"),
    # --- other model licenses ---
    _k("LicenseRef-qwen", "Qwen License Agreement", "restricted-use",
       ("user-cap-100m-mau", "naming-duty", "license-copy", "notice"),
       "qwen", "qwen-license", "tongyi-qianwen", "tongyi qianwen", "qianwen", "tongyi-qianwen-license-agreement",
       links=("qwen/license", "tongyi")),
    _k("LicenseRef-qwen-research", "Qwen Research License Agreement", "non-commercial",
       ("no-commercial-use", "naming-duty", "license-copy", "notice"), "qwen-research", "qwen-research-license"),
    _k("LicenseRef-deepseek", "DeepSeek License Agreement", "restricted-use", _RAIL, "deepseek",
       "deepseek-license", "deepseek-license-agreement", "LicenseRef-scancode-deepseek-la-1.0",
       links=("deepseek-ai/deepseek-llm/blob/main/license-model",)),
    _k("LicenseRef-falcon", "TII Falcon License", "restricted-use",
       ("acceptable-use-policy", "attribution", "license-copy", "notice"),
       "falcon", "falcon-llm-license", "tii-falcon-llm", "falcon-180b-license", "falcon-2-11b-license",
       "tii-falcon-license", "LicenseRef-scancode-falcon-2-11b-1.0", links=("falconllm.tii.ae",)),
    _k("LicenseRef-mistral-research", "Mistral AI Research License", "non-commercial",
       ("no-commercial-use", "license-copy", "attribution"), "mrl", "mistral-research-license",
       "mistral-ai-research-license", links=("mistral.ai/licenses/mrl",)),
    _k("LicenseRef-mistral-non-production", "Mistral AI Non-Production License", "non-commercial",
       ("no-commercial-use", "license-copy", "attribution"), "mnpl", "mistral-ai-non-production-license",
       links=("mistral.ai/licenses/mnpl",)),
    _k("LicenseRef-fair-noncommercial-research", "FAIR Noncommercial Research License", "non-commercial",
       ("no-commercial-use", "license-copy", "acceptable-use-policy"), "fair-noncommercial-research-license"),
)
"""Every license classified by hand (the ScanCode index fills in the rest of SPDX)."""

UNKNOWN_IDS: frozenset[str] = frozenset({"other", "unknown", "noassertion", "none", "proprietary"})
"""Card values that name no license (Hugging Face ``other``/``unknown``, SPDX ``NOASSERTION``)."""


@lru_cache(maxsize=1)
def by_id() -> dict[str, KnownLicense]:
    """Hand-table entries keyed by their id."""
    return {entry.id: entry for entry in KNOWN}


@lru_cache(maxsize=1)
def by_alias() -> dict[str, KnownLicense]:
    """Hand-table entries keyed by every lowercase name they go by (id included)."""
    table: dict[str, KnownLicense] = {}
    for entry in KNOWN:
        for name in (entry.id.lower(), *entry.aliases):
            table.setdefault(name, entry)
    return table


def lookup(name: str) -> KnownLicense | None:
    """The hand-table entry for a card id, license_name or LicenseRef, case-insensitively."""
    return by_alias().get(name.strip().lower())


def lookup_link(link: str) -> KnownLicense | None:
    """The hand-table entry a ``license_link`` URL points at, if it is a known license page."""
    lowered = link.strip().lower()
    for entry in KNOWN:
        if any(fragment in lowered for fragment in entry.links):
            return entry
    return None
