"""License detection and classification: card ids, license texts, reconciliation, expressions, fuzz."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from assay.card import LicenseClass, classify_expression, detect_license, spdx_licensing
from assay.card._license import KNOWN, best_match
from assay.errors import AssayError, InputError
from tests.fixtures.model_folders import LLAMA31_LICENSE as LLAMA_31

AGPL = """                    GNU AFFERO GENERAL PUBLIC LICENSE
                       Version 3, 19 November 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
 Everyone is permitted to copy and distribute verbatim copies
 of this license document, but changing it is not allowed.

                            Preamble

  The GNU Affero General Public License is a free, copyleft license for
software and other kinds of works, specifically designed to ensure
cooperation with the community in the case of network server software.

  13. Remote Network Interaction; Use with the GNU General Public License.

  Notwithstanding any other provision of this License, if you modify the
Program, your modified version must prominently offer all users
interacting with it remotely through a computer network (if your version
supports such interaction) an opportunity to receive the Corresponding
Source of your version.
"""

APACHE = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION

   2. Grant of Copyright License. Subject to the terms and conditions of
      this License, each Contributor hereby grants to You a perpetual,
      worldwide, non-exclusive, no-charge, royalty-free, irrevocable
      copyright license to reproduce, prepare Derivative Works of,

   4. Redistribution. (a) You must give any other recipients of the Work or
      Derivative Works a copy of this License; and

   Licensed under the Apache License, Version 2.0 (the "License");
   you may not use this file except in compliance with the License.
"""

BSD3 = """Copyright (c) 2024, Someone
Redistribution and use in source and binary forms, with or without modification, are permitted provided that
the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of conditions and the
following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the
following disclaimer in the documentation and/or other materials provided with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used to endorse or promote
products derived from this software without specific prior written permission.
"""


def model(tmp_path: Path, card: str | None = None, **files: str) -> Path:
    if card is not None:
        (tmp_path / "README.md").write_text(card, encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return tmp_path


def codes(report: object) -> dict[str, str]:
    return {f.code: f.severity for f in report.findings}  # type: ignore[attr-defined]


def test_real_minilm_license(minilm_dir: Path) -> None:
    report = detect_license(minilm_dir)
    assert report.expression == "Apache-2.0" and report.license_class == "permissive"
    assert report.name == "Apache License 2.0"
    assert {"attribution", "notice"} <= set(report.obligations)
    assert [(e.source, e.spdx, e.confidence) for e in report.evidence] == [("card", "Apache-2.0", 1.0)]
    assert report.findings == ()


def test_real_silero_license_file_is_mit(silero_dir: Path, tmp_path: Path) -> None:
    dist = next(silero_dir.parent.parent.glob("silero_vad-*.dist-info"))
    shutil.copy(dist / "licenses" / "LICENSE", tmp_path / "LICENSE")
    report = detect_license(tmp_path)
    assert report.expression == "MIT" and report.license_class == "permissive"
    assert report.evidence[0].source == "LICENSE" and report.evidence[0].confidence >= 0.7


def test_llama31_text_without_card(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, LICENSE=LLAMA_31))
    assert report.expression == "LicenseRef-llama3.1"
    assert report.license_class == "restricted-use"
    assert report.name == "Llama 3.1 Community License"
    assert {"user-cap-700m-mau", "acceptable-use-policy", "naming-duty"} <= set(report.obligations)
    assert "eu-multimodal-restriction" not in report.obligations
    assert report.evidence[0].source == "LICENSE"


@pytest.mark.parametrize("title, release, expected", [
    ("META LLAMA 3 COMMUNITY LICENSE AGREEMENT", "Meta Llama 3 Version Release Date: April 18, 2024",
     "LicenseRef-llama3"),
    ("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT", "Llama 3.2 Version Release Date: September 25, 2024",
     "LicenseRef-llama3.2"),
    ("LLAMA 3.3 COMMUNITY LICENSE AGREEMENT", "Llama 3.3 Version Release Date: December 6, 2024",
     "LicenseRef-llama3.3"),
    ("LLAMA 4 COMMUNITY LICENSE AGREEMENT", "Llama 4 Version Effective Date: April 5, 2025", "LicenseRef-llama4"),
    ("LLAMA 2 COMMUNITY LICENSE AGREEMENT", "Llama 2 Version Release Date: July 18, 2023", "LicenseRef-llama2"),
])
def test_llama_versions_told_apart(title: str, release: str, expected: str) -> None:
    body = LLAMA_31.split("\n", 2)[2].replace("Llama 3.1", title.split(" COMMUNITY")[0].title())
    match = best_match(f"{title}\n{release}\n{body}")
    assert match is not None and match.license_id == expected


def test_llama32_has_eu_restriction() -> None:
    assert "eu-multimodal-restriction" in classify_expression("llama3.2").obligations


def test_cc_by_nc_card(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, "---\nlicense: cc-by-nc-4.0\n---\n"))
    assert report.expression == "CC-BY-NC-4.0" and report.license_class == "non-commercial"
    assert "no-commercial-use" in report.obligations


def test_agpl_file(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, LICENSE__txt=AGPL))
    assert report.expression == "AGPL-3.0-only" and report.license_class == "network-copyleft"
    assert "network-source" in report.obligations
    assert report.evidence[0].source == "LICENSE.txt"


def test_apache_file_with_mit_card_is_a_mismatch(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, "---\nlicense: mit\n---\n", LICENSE=APACHE))
    assert codes(report).get("license-mismatch") == "medium"  # same class, different ids
    assert report.expression == "MIT AND Apache-2.0"
    assert {e.spdx for e in report.evidence} == {"MIT", "Apache-2.0"}


def test_class_mismatch_is_high(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, "---\nlicense: apache-2.0\n---\n", LICENSE=LLAMA_31))
    assert codes(report).get("license-mismatch") == "high"
    assert report.license_class == "restricted-use"  # both statements apply until someone resolves them


def test_matching_card_and_file_agree(tmp_path: Path) -> None:
    card = "---\nlicense: other\nlicense_name: llama3.1\n---\n"
    report = detect_license(model(tmp_path, card, LICENSE=LLAMA_31, NOTICE="Some attribution.\n"))
    assert report.expression == "LicenseRef-llama3.1" and "license-mismatch" not in codes(report)
    assert report.findings == ()


def test_license_name_and_link_resolve_other(tmp_path: Path) -> None:
    card = "---\nlicense: other\nlicense_link: https://ai.google.dev/gemma/terms\n---\n"
    report = detect_license(model(tmp_path, card))
    assert report.expression == "LicenseRef-gemma" and report.license_class == "restricted-use"
    assert report.evidence[0].confidence < 1.0


def test_other_without_text(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, "---\nlicense: other\nlicense_name: my-own\n---\n"))
    assert report.license_class == "unknown" and report.expression is None
    assert "license-other-without-text" in codes(report)


def test_unrecognized_file_and_missing(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, LICENSE="You may do whatever the vendor permits in writing.\n"))
    assert report.license_class == "unknown" and "license-unrecognized" in codes(report)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert codes(detect_license(empty)) == {"license-missing": "high"}


def test_bsd3_vs_bsd2(tmp_path: Path) -> None:
    assert best_match(BSD3).license_id == "BSD-3-Clause"  # type: ignore[union-attr]
    bsd2 = BSD3.split("3. Neither")[0]
    assert best_match(bsd2).license_id == "BSD-2-Clause"  # type: ignore[union-attr]


def test_file_limits(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"LICENSE-{i}").write_text(BSD3)
    report = detect_license(tmp_path, max_files=2)
    assert [e.source for e in report.evidence] == ["LICENSE-0", "LICENSE-1"]
    assert "license-files-truncated" in codes(report)
    assert detect_license(tmp_path, max_license_bytes=40).license_class == "unknown"


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        detect_license(tmp_path / "nope")


@pytest.mark.parametrize("expression, normalized, cls", [
    ("apache-2.0", "Apache-2.0", "permissive"),
    ("MIT OR GPL-3.0", "MIT OR GPL-3.0-only", "permissive"),
    ("mit AND gpl-3.0", "MIT AND GPL-3.0-only", "strong-copyleft"),
    ("lgpl-2.1 or agpl-3.0", "LGPL-2.1-only OR AGPL-3.0-only", "weak-copyleft"),
    ("apache-2.0 AND llama3.1", "Apache-2.0 AND LicenseRef-llama3.1", "restricted-use"),
    ("cc-by-nc-4.0 OR llama3", "CC-BY-NC-4.0 OR LicenseRef-llama3", "restricted-use"),
    ("cc-by-nc-sa-4.0 AND cc-by-sa-4.0", "CC-BY-NC-SA-4.0 AND CC-BY-SA-4.0", "non-commercial"),
    ("openrail++", "LicenseRef-openrail++", "restricted-use"),
    ("creativeml-openrail-m", "LicenseRef-creativeml-openrail-m", "restricted-use"),
    ("bigscience-bloom-rail-1.0", "LicenseRef-bigscience-bloom-rail-1.0", "restricted-use"),
    ("LicenseRef-scancode-llama-3.1-license-2024", "LicenseRef-llama3.1", "restricted-use"),
    ("qwen-research", "LicenseRef-qwen-research", "non-commercial"),
    ("mrl", "LicenseRef-mistral-research", "non-commercial"),
    ("cc0-1.0", "CC0-1.0", "permissive"),
    ("mpl-2.0", "MPL-2.0", "weak-copyleft"),
    ("Zlib", "Zlib", "permissive"),              # not in the hand table: ScanCode category
    ("CC-BY-NC-3.0", "CC-BY-NC-3.0", "non-commercial"),
])
def test_expressions(expression: str, normalized: str, cls: str) -> None:
    report = classify_expression(expression)
    assert (report.expression, report.license_class) == (normalized, cls)


def test_or_takes_obligations_of_the_chosen_option() -> None:
    report = classify_expression("MIT OR AGPL-3.0")
    assert "network-source" not in report.obligations and "attribution" in report.obligations
    both = classify_expression("MIT AND AGPL-3.0")
    assert both.license_class == "network-copyleft" and "network-source" in both.obligations


@pytest.mark.parametrize("expression, code", [("other", "license-other"), ("not-a-license", "license-unknown-id"),
                                              ("MIT AND (", "license-expression-invalid"), ("", None)])
def test_bad_expressions(expression: str, code: str | None) -> None:
    report = classify_expression(expression)
    assert report.license_class == "unknown" and report.findings
    if code:
        assert report.findings[0].code == code


def test_catalog_ids_are_spdx_or_license_refs() -> None:
    licensing = spdx_licensing()
    for entry in KNOWN:
        if entry.id.startswith("LicenseRef-"):
            # a hand-made ref must not shadow a real SPDX id the installed index knows
            assert not licensing.validate(entry.id.removeprefix("LicenseRef-")).errors == [], entry.id
        else:
            assert licensing.validate(entry.id).errors == [], entry.id


@given(st.text(max_size=3000))
def test_fuzz_matcher(text: str) -> None:
    match = best_match(text)
    assert match is None or 0.5 <= match.score <= 1.0


@given(st.lists(st.sampled_from([LLAMA_31, AGPL, APACHE, BSD3, "noise ", "Llama 3.2 ", "\n", "©"]), max_size=6),
       st.integers(0, 500))
def test_fuzz_matcher_on_mixed_license_text(parts: list[str], cut: int) -> None:
    text = "".join(parts)
    match = best_match(text[cut:])
    assert match is None or match.score <= 1.0


@given(st.text(alphabet=st.sampled_from(list("()ANDORWITHmitgpl-2.0+ apache llama3.1")), max_size=200)
       | st.text(max_size=100))
@example("()")
@example("(" * 1500 + "mit" + ")" * 1500)
def test_fuzz_classify_expression(expression: str) -> None:
    try:
        report = classify_expression(expression)
    except AssayError:
        return
    assert report.license_class in {"permissive", "weak-copyleft", "strong-copyleft", "network-copyleft",
                                    "restricted-use", "non-commercial", "proprietary", "unknown"}


CARD_IDS = ["mit", "apache-2.0", "llama3.1", "cc-by-nc-4.0", "agpl-3.0", "gpl-3.0", "bsd-3-clause"]


@given(st.one_of(st.text(max_size=300), st.sampled_from(CARD_IDS)), st.binary(max_size=3000))
@example("llama3.1", b"")
@example("cc-by-nc-4.0", b"\n")
def test_fuzz_detect_license_folder(card_license: str, license_bytes: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "README.md").write_text(f"---\nlicense: {card_license!r}\n---\n", encoding="utf-8",
                                          errors="replace")
        (folder / "LICENSE").write_bytes(license_bytes)
        report = detect_license(folder)
        assert report.license_class is not None
        assert report.license_class in get_args(LicenseClass)
        # A class other than unknown always names its expression and the evidence it came from.
        assert (report.license_class == "unknown") == (report.expression is None), report
        assert report.license_class == "unknown" or report.evidence, report
        if card_license in CARD_IDS and not license_bytes.strip():
            # The card's declared license is what the user sees when there is no license text to read.
            assert report.license_class == classify_expression(card_license).license_class, report


GPL3 = """GNU GENERAL PUBLIC LICENSE
Version 3, 29 June 2007
Everyone is permitted to copy and distribute verbatim copies of this license document, but changing it is not
allowed.
The GNU General Public License is a free, copyleft license for software and other kinds of works.
"This License" refers to version 3 of the GNU General Public License.
13. Use with the GNU Affero General Public License.
You have permission to link or combine any covered work with a work licensed under version 3 of the GNU Affero
General Public License into a single combined work.
"""

QWEN = """Qwen LICENSE AGREEMENT
Release Date: September 19, 2024
By clicking to agree or by using or distributing any portion or element of the Materials, you will be deemed to
have recognized and accepted the content of this Agreement, which is effective immediately.
4. If you are commercially using the Materials, and your product or service has more than 100 million monthly
active users, You shall request a license from Us.
"Qwen is licensed under the Qwen LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. All Rights Reserved."
"""


def test_gpl3_is_not_taken_for_agpl() -> None:
    match = best_match(GPL3)
    assert match is not None and match.license_id == "GPL-3.0-only"


def test_qwen_text(tmp_path: Path) -> None:
    report = detect_license(model(tmp_path, LICENSE=QWEN))
    assert report.expression == "LicenseRef-qwen" and report.license_class == "restricted-use"
    assert "user-cap-100m-mau" in report.obligations


def test_real_cc_by_text_shipped_with_license_expression(tmp_path: Path) -> None:
    import license_expression

    text = (Path(license_expression.__file__).parent / "data" / "cc-by-4.0.LICENSE").read_text(encoding="utf-8")
    report = detect_license(model(tmp_path, LICENSE=text))
    assert report.expression == "CC-BY-4.0" and report.license_class == "permissive"
