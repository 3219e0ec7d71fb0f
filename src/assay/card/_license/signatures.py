"""Text signatures: the titles and key sentences that identify each license text (short quotes, not texts).

A signature matches a file when most of its key sentences appear in the file (word-trigram containment,
so reflowed lines, punctuation and small edits do not matter). Titles decide between versions whose
bodies are nearly the same (Llama 3 / 3.1 / 3.2 / 3.3 / 4, GPL-2.0 / GPL-3.0, CC-BY / CC-BY-NC ...);
``excludes`` are sentences whose presence means a sibling license instead (BSD-2 vs BSD-3).
Companion texts (acceptable-use policies, notices) map to the license they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Signature:
    """How to recognize one license text (or a companion text of a license)."""

    license_id: str
    titles: tuple[str, ...]
    phrases: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    kind: Literal["license", "policy"] = "license"


_MIT_GRANT = ("permission is hereby granted, free of charge, to any person obtaining a copy of this software and "
              "associated documentation files (the \"software\"), to deal in the software without restriction")
_BSD_FORM = ("redistribution and use in source and binary forms, with or without modification, are permitted "
             "provided that the following conditions are met")
_BSD_SOURCE = ("redistributions of source code must retain the above copyright notice, this list of conditions "
               "and the following disclaimer")
_BSD_BINARY = ("redistributions in binary form must reproduce the above copyright notice, this list of conditions "
               "and the following disclaimer in the documentation and/or other materials provided with the "
               "distribution")
_BSD_NAME = "neither the name of the copyright holder nor the names of its contributors may be used to endorse"
_CC_ACCEPT = ("by exercising the licensed rights (defined below), you accept and agree to be bound by the terms "
              "and conditions of this creative commons")
_CC_COMMON = ("licensor grants you a worldwide, royalty-free, non-sublicensable, non-exclusive, irrevocable license "
              "to exercise the licensed rights in the licensed material")
_GPL_VERBATIM = ("everyone is permitted to copy and distribute verbatim copies of this license document, but "
                 "changing it is not allowed")
_LLAMA_MAU = ("the monthly active users of the products or services made available by or for licensee, or "
              "licensee's affiliates, is greater than 700 million monthly active users in the preceding calendar "
              "month, you must request a license from meta")
_LLAMA_GRANT = ("you are granted a non-exclusive, worldwide, non-transferable and royalty-free limited license "
                "under meta's intellectual property or other rights owned by meta embodied in the llama materials")
_LLAMA_AUP = ("your use of the llama materials must comply with applicable laws and regulations (including trade "
              "compliance laws and regulations) and adhere to the acceptable use policy for the llama materials")
_RAIL_USE = "you agree not to use the model or derivatives of the model"
_RAIL_PASS = ("use-based restrictions as referenced in paragraph 5 must be included as an enforceable provision by "
              "you in any type of legal agreement")
_RAIL_ATTACH = "attachment a use restrictions"
_AUP_COMMON = ("prohibited uses", "we want everyone to use", "safely and responsibly")


def _llama(license_id: str, title: str, name: str, date: str, *extra: str) -> tuple[Signature, Signature]:
    license_sig = Signature(license_id, (title, f"{name} version release date: {date}",
                                         f"{name} version effective date: {date}"),
                            (_LLAMA_MAU, _LLAMA_GRANT, _LLAMA_AUP,
                             f"{name} is licensed under the {name} community license, copyright meta platforms, "
                             "inc. all rights reserved", *extra))
    policy = Signature(license_id, (f"{name} acceptable use policy",),
                       (*_AUP_COMMON, f"meta is committed to promoting safe and fair use of its tools and features, "
                        f"including {name}"), kind="policy")
    return license_sig, policy


SIGNATURES: tuple[Signature, ...] = (
    Signature("Apache-2.0", ("apache license version 2.0, january 2004",),
              ("terms and conditions for use, reproduction, and distribution",
               "grant of copyright license. subject to the terms and conditions of this license, each contributor "
               "hereby grants to you a perpetual, worldwide, non-exclusive, no-charge, royalty-free, irrevocable",
               "you must give any other recipients of the work or derivative works a copy of this license",
               "licensed under the apache license, version 2.0 (the \"license\"); you may not use this file except "
               "in compliance with the license")),
    Signature("MIT", (),
              (_MIT_GRANT, "the above copyright notice and this permission notice shall be included in all copies "
               "or substantial portions of the software",
               "the software is provided \"as is\", without warranty of any kind, express or implied")),
    Signature("BSD-3-Clause", (), (_BSD_FORM, _BSD_SOURCE, _BSD_BINARY, _BSD_NAME)),
    Signature("BSD-2-Clause", (), (_BSD_FORM, _BSD_SOURCE, _BSD_BINARY),
              excludes=("neither the name of",)),
    Signature("ISC", (),
              ("permission to use, copy, modify, and/or distribute this software for any purpose with or without "
               "fee is hereby granted, provided that the above copyright notice and this permission notice appear "
               "in all copies",
               "the software is provided \"as is\" and the author disclaims all warranties with regard to this "
               "software including all implied warranties of merchantability and fitness")),
    Signature("Unlicense", ("this is free and unencumbered software released into the public domain",),
              ("this is free and unencumbered software released into the public domain",
               "anyone is free to copy, modify, publish, use, compile, sell, or distribute this software, either in "
               "source code form or as a compiled binary, for any purpose, commercial or non-commercial",
               "for more information, please refer to")),
    Signature("CC0-1.0", ("cc0 1.0 universal",),
              ("statement of purpose", "the laws of most jurisdictions throughout the world automatically confer "
               "exclusive copyright and related rights", "affirmer hereby overtly, fully, permanently, irrevocably "
               "and unconditionally waives, abandons, and surrenders all of affirmer's copyright and related rights")),
    Signature("CC-BY-4.0", ("creative commons attribution 4.0 international public license",),
              (_CC_ACCEPT, _CC_COMMON), excludes=("noncommercial", "sharealike", "noderivatives")),
    Signature("CC-BY-SA-4.0", ("creative commons attribution-sharealike 4.0 international public license",),
              (_CC_ACCEPT, _CC_COMMON, "share alike"), excludes=("noncommercial", "noderivatives")),
    Signature("CC-BY-ND-4.0", ("creative commons attribution-noderivatives 4.0 international public license",),
              (_CC_ACCEPT, _CC_COMMON), excludes=("noncommercial", "sharealike")),
    Signature("CC-BY-NC-4.0", ("creative commons attribution-noncommercial 4.0 international public license",),
              (_CC_ACCEPT, _CC_COMMON, "noncommercial means not primarily intended for or directed towards "
               "commercial advantage or monetary compensation"), excludes=("sharealike", "noderivatives")),
    Signature("CC-BY-NC-SA-4.0",
              ("creative commons attribution-noncommercial-sharealike 4.0 international public license",),
              (_CC_ACCEPT, _CC_COMMON, "noncommercial means not primarily intended for or directed towards "
               "commercial advantage or monetary compensation"), excludes=("noderivatives",)),
    Signature("CC-BY-NC-ND-4.0",
              ("creative commons attribution-noncommercial-noderivatives 4.0 international public license",),
              (_CC_ACCEPT, _CC_COMMON, "noncommercial means not primarily intended for or directed towards "
               "commercial advantage or monetary compensation"), excludes=("sharealike",)),
    Signature("GPL-3.0-only", ("gnu general public license version 3, 29 june 2007",),
              (_GPL_VERBATIM, "the gnu general public license is a free, copyleft license for software and other "
               "kinds of works", "\"this license\" refers to version 3 of the gnu general public license"),
              excludes=("gnu affero general public license version 3, 19 november 2007",
                        "gnu lesser general public license version 3, 29 june 2007")),
    Signature("GPL-2.0-only", ("gnu general public license version 2, june 1991",),
              (_GPL_VERBATIM, "the licenses for most software are designed to take away your freedom to share and "
               "change it", "this general public license applies to most of the free software foundation's "
               "software"), excludes=("lesser general public license version 2.1",)),
    Signature("LGPL-2.1-only", ("gnu lesser general public license version 2.1, february 1999",),
              (_GPL_VERBATIM, "this license, the lesser general public license, applies to some specially "
               "designated software packages--typically libraries")),
    Signature("LGPL-3.0-only", ("gnu lesser general public license version 3, 29 june 2007",),
              (_GPL_VERBATIM, "this version of the gnu lesser general public license incorporates the terms and "
               "conditions of version 3 of the gnu general public license, supplemented by the additional "
               "permissions listed below")),
    Signature("AGPL-3.0-only", ("gnu affero general public license version 3, 19 november 2007",),
              (_GPL_VERBATIM, "the gnu affero general public license is a free, copyleft license for software and "
               "other kinds of works, specifically designed to ensure cooperation with the community in the case "
               "of network server software", "remote network interaction; use with the gnu general public license",
               "your modified version must prominently offer all users interacting with it remotely through a "
               "computer network")),
    Signature("MPL-2.0", ("mozilla public license version 2.0",),
              ("\"covered software\" means source code form to which the initial contributor has attached the "
               "notice in exhibit a", "this source code form is subject to the terms of the mozilla public "
               "license, v. 2.0", "if a copy of the mpl was not distributed with this file")),
    Signature("EPL-2.0", ("eclipse public license - v 2.0",),
              ("the accompanying program is provided under the terms of this eclipse public license "
               "(\"agreement\"). any use, reproduction or distribution of the program constitutes recipient's "
               "acceptance of this agreement", "secondary license")),
    Signature("LicenseRef-llama2", ("llama 2 community license agreement", "llama 2 version release date: july 18, "
                                    "2023"),
              (_LLAMA_MAU, _LLAMA_GRANT,
               "you will not use the llama materials or any output or results of the llama materials to improve "
               "any other large language model (excluding llama 2 or derivative works thereof)",
               "llama 2 is licensed under the llama 2 community license, copyright meta platforms, inc. all rights "
               "reserved")),
    Signature("LicenseRef-llama2", ("llama 2 acceptable use policy",), _AUP_COMMON, kind="policy"),
    *_llama("LicenseRef-llama3", "meta llama 3 community license agreement", "meta llama 3", "april 18, 2024",
            "you shall also include \"llama 3\" at the beginning of any such ai model name",
            "built with meta llama 3"),
    *_llama("LicenseRef-llama3.1", "llama 3.1 community license agreement", "llama 3.1", "july 23, 2024",
            "you shall also include \"llama\" at the beginning of any such ai model name", "built with llama"),
    *_llama("LicenseRef-llama3.2", "llama 3.2 community license agreement", "llama 3.2", "september 25, 2024",
            "you shall also include \"llama\" at the beginning of any such ai model name", "built with llama"),
    *_llama("LicenseRef-llama3.3", "llama 3.3 community license agreement", "llama 3.3", "december 6, 2024",
            "you shall also include \"llama\" at the beginning of any such ai model name", "built with llama"),
    *_llama("LicenseRef-llama4", "llama 4 community license agreement", "llama 4", "april 5, 2025",
            "you shall also include \"llama\" at the beginning of any such ai model name", "built with llama"),
    Signature("LicenseRef-gemma", ("gemma terms of use",),
              ("\"gemma\" means the set of machine learning language models, trained model weights and parameters "
               "identified at ai.google.dev/gemma", "gemma is provided under and subject to the gemma terms of use "
               "found at ai.google.dev/gemma/terms", "google reserves the right to restrict (remotely or "
               "otherwise) usage of any of the gemma services that google reasonably believes are in violation of "
               "this agreement", "gemma prohibited use policy")),
    Signature("LicenseRef-gemma", ("gemma prohibited use policy",),
              ("google reserves the right to update this gemma prohibited use policy from time to time",
               "you may not use nor allow others to use gemma or model derivatives to"), kind="policy"),
    Signature("LicenseRef-creativeml-openrail-m", ("creativeml open rail-m license", "creativeml open rail-m"),
              (_RAIL_USE, _RAIL_PASS, _RAIL_ATTACH), excludes=("rail++",)),
    Signature("LicenseRef-openrail++", ("creativeml open rail++-m license", "open rail++-m license"),
              (_RAIL_USE, _RAIL_ATTACH)),
    Signature("LicenseRef-bigscience-openrail-m", ("bigscience open rail-m license",),
              (_RAIL_USE, _RAIL_PASS, _RAIL_ATTACH)),
    Signature("LicenseRef-bigscience-bloom-rail-1.0", ("bigscience rail license v1.0", "bigscience bloom rail"),
              (_RAIL_USE, _RAIL_PASS, _RAIL_ATTACH)),
    Signature("LicenseRef-bigcode-openrail-m", ("bigcode open rail-m v1 license agreement",),
              (_RAIL_USE, _RAIL_ATTACH)),
    Signature("LicenseRef-openrail-m", ("open rail-m license",), (_RAIL_USE, _RAIL_PASS, _RAIL_ATTACH),
              excludes=("creativeml", "bigscience", "bigcode", "deepseek")),
    Signature("LicenseRef-deepseek", ("deepseek license agreement",),
              (_RAIL_USE, _RAIL_ATTACH, "deepseek license agreement version 1.0, 23 october 2023")),
    Signature("LicenseRef-qwen", ("qwen license agreement", "tongyi qianwen license agreement"),
              ("by clicking to agree or by using or distributing any portion or element of the materials, you will "
               "be deemed to have recognized and accepted the content of this agreement",
               "if you are commercially using the materials, and your product or service has more than 100 million "
               "monthly active users, you shall request a license from us",
               "licensed under the qwen license agreement, copyright alibaba cloud. all rights reserved"),
              excludes=("qwen research license agreement",)),
    Signature("LicenseRef-qwen-research", ("qwen research license agreement",),
              ("by clicking to agree or by using or distributing any portion or element of the materials, you will "
               "be deemed to have recognized and accepted the content of this agreement",
               "non-commercial", "licensed under the qwen research license agreement")),
    Signature("LicenseRef-falcon", ("tii falcon llm license", "falcon 180b tii license", "tii falcon license",
                                    "falcon 2 11b tii license"),
              ("technology innovation institute", "acceptable use policy", "falcon")),
    Signature("LicenseRef-mistral-research", ("mistral ai research license",),
              ("if you want to use a mistral model, or derivative, for any purpose that is not expressly "
               "authorized under this agreement, you must request a license from mistral ai", "research purposes")),
    Signature("LicenseRef-mistral-non-production", ("mistral ai non-production license",),
              ("if you want to use a mistral model, or derivative, for any purpose that is not expressly "
               "authorized under this agreement, you must request a license from mistral ai", "non-production")),
)
"""Every text signature, license texts and companion policies together."""
