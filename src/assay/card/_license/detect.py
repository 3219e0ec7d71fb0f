"""The license of a model folder: what its card declares and what its license files say, reconciled.

License files are recognized by their text (``textmatch``), never by their names; names only choose
which top-level files are read. When the card and the files disagree, both statements ship with the
model, so the report keeps both (``card AND file``) and raises ``license-mismatch`` until a human decides.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from assay.card._card import read_card
from assay.card._interface import CardFinding, LicenseEvidence, LicenseReport, ModelCard
from assay.card._license import catalog
from assay.card._license.classify import keys_of, license_info, normalize_expression, report_for
from assay.card._license.textmatch import MIN_SIMILARITY, best_match
from assay.errors import InputError

MAX_LICENSE_BYTES = 1 << 20
"""Bytes read from each license file (``max_license_bytes``)."""
MAX_LICENSE_FILES = 32
"""License-like files considered per folder (``max_files``); the rest are skipped with a finding."""

_LICENSE_NAME = re.compile(r"^(licen[cs]e|copying|notice|use_policy)|licen[cs]e", re.I)
_CONFIDENCE_BY_NAME = 0.9   # the card named the license in license_name rather than by id
_CONFIDENCE_BY_LINK = 0.8   # only the card's license_link pointed at a known license page


def detect_license(model_dir: Path, card: ModelCard | None = None, *, max_license_bytes: int = MAX_LICENSE_BYTES,
                   max_files: int = MAX_LICENSE_FILES, min_similarity: float = MIN_SIMILARITY) -> LicenseReport:
    """Combine the card's license fields and the folder's license files into one ``LicenseReport``.

    Raises ``InputError`` only when ``model_dir`` is not a readable folder.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    if card is None:
        card = read_card(folder)
    findings: list[CardFinding] = []
    evidence: list[LicenseEvidence] = []
    card_parsed, card_said_other = _from_card(card, evidence, findings)
    file_ids = _from_files(folder, evidence, findings, max_license_bytes, max_files, min_similarity,
                           have_card=card_parsed is not None)

    if card_parsed is not None:
        card_report = report_for(card_parsed)
        card_keys = set(keys_of(card_parsed))
        extra = [fid for fid in file_ids if fid not in card_keys]
        for fid in extra:
            info = license_info(fid)
            differs = info.license_class != card_report.license_class
            findings.append(CardFinding(
                "license-mismatch", "high" if differs else "medium",
                f"card says {card_report.expression} ({card_report.license_class}) but a license file reads as "
                f"{fid} ({info.license_class})"))
        if not extra:
            return _final(card_report, evidence, findings)
        parsed, _ = normalize_expression(" AND ".join([f"({card_report.expression})", *extra]))
        return _final(report_for(parsed), evidence, findings) if parsed is not None else _final(
            card_report, evidence, findings)
    if file_ids:
        parsed, problems = normalize_expression(" AND ".join(file_ids))
        if parsed is not None:
            return _final(report_for(parsed), evidence, findings + problems)
    if card_said_other:
        findings.append(CardFinding("license-other-without-text", "medium",
                                    "card says license 'other' but no recognizable license text is in the folder"))
        return LicenseReport(expression=None, license_class="unknown", name=card.license_name,
                             evidence=tuple(evidence), findings=tuple(findings))
    if not any(f.code in ("license-unrecognized", "license-unknown-id", "license-expression-invalid")
               for f in findings):
        findings.append(CardFinding("license-missing", "high", "no license in the card and no license file"))
    return LicenseReport(expression=None, license_class="unknown", evidence=tuple(evidence), findings=tuple(findings))


def _final(report: LicenseReport, evidence: list[LicenseEvidence], findings: list[CardFinding]) -> LicenseReport:
    return LicenseReport(expression=report.expression, license_class=report.license_class,
                         obligations=report.obligations, name=report.name, evidence=tuple(evidence),
                         findings=tuple(findings) + report.findings)


def _from_card(card: ModelCard, evidence: list[LicenseEvidence], findings: list[CardFinding]) -> tuple[object, bool]:
    """(parsed card expression or None, whether the card said 'other' without naming a known license)."""
    declared = (card.license or "").strip()
    named = catalog.lookup(card.license_name) if card.license_name else None
    linked = catalog.lookup_link(card.license_link) if card.license_link else None
    if not declared and named is None and linked is None:
        return None, False
    if declared and declared.lower() not in catalog.UNKNOWN_IDS:
        parsed, problems = normalize_expression(declared)
        findings.extend(problems)
        if parsed is not None and all(license_info(k).license_class != "unknown" for k in keys_of(parsed)):
            evidence.append(LicenseEvidence("card", parsed.render(), 1.0))
            return parsed, False
        if parsed is not None:
            findings.append(CardFinding("license-unknown-id", "medium",
                                        f"card license {declared[:100]!r} is not a license assay knows"))
        return None, False
    entry, confidence = (named, _CONFIDENCE_BY_NAME) if named is not None else (linked, _CONFIDENCE_BY_LINK)
    if entry is None:
        return None, True
    parsed, problems = normalize_expression(entry.id)
    findings.extend(problems)
    if parsed is None:
        return None, True
    evidence.append(LicenseEvidence("card", entry.id, confidence))
    return parsed, False


def license_files(folder: Path, max_files: int = MAX_LICENSE_FILES) -> tuple[list[str], int]:
    """Names of the top-level license-like files (sorted, at most ``max_files``) and how many were skipped."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if _LICENSE_NAME.search(entry.name))
    except OSError as exc:
        raise InputError(f"cannot list {folder}: {exc.strerror or exc}") from None
    regular = [name for name in names if _is_regular(folder / name)]
    return regular[:max_files], max(0, len(regular) - max_files)


def _is_regular(path: Path) -> bool:
    """Regular files only, symlinks followed (HF cache snapshots); never FIFOs or devices that could block."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _from_files(folder: Path, evidence: list[LicenseEvidence], findings: list[CardFinding], max_bytes: int,
                max_files: int, min_similarity: float, *, have_card: bool) -> list[str]:
    """Match every license-like file; return the distinct license ids found, in file order."""
    names, skipped = license_files(folder, max_files)
    if skipped:
        findings.append(CardFinding("license-files-truncated", "low",
                                    f"{skipped} more license-like files not read (limit {max_files})"))
    found: list[str] = []
    for name in names:
        try:
            with (folder / name).open("rb") as handle:
                text = handle.read(max_bytes).decode("utf-8", errors="replace")
        except OSError as exc:
            findings.append(CardFinding("license-file-unreadable", "medium", f"{name}: {exc.strerror or exc}"))
            continue
        match = best_match(text, min_similarity)
        if match is None:
            if not name.upper().startswith("NOTICE"):  # NOTICE files carry attributions, not license texts
                findings.append(CardFinding("license-unrecognized", "low" if have_card else "medium",
                                            f"{name} does not read as any license assay knows"))
            continue
        evidence.append(LicenseEvidence(name, match.license_id, match.score))
        if match.license_id not in found:
            found.append(match.license_id)
    return found

