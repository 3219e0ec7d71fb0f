"""A small, fast license-text matcher: normalized word trigrams, containment scores and decisive titles.

Score of a signature against a text, in 0..1:

- ``p`` = mean over its key sentences of the share of the sentence's word trigrams found in the text
  (containment, so extra text around a license, reflowed lines and punctuation do not matter);
- a title found verbatim (after normalization) lifts the score to ``TITLE_FLOOR + (1 - TITLE_FLOOR) * p``;
  without one the score is capped at ``NO_TITLE_WEIGHT * p`` so a versioned sibling with its title wins;
- any ``excludes`` sentence present halves the score (it belongs to a sibling license).

Cost is linear in the text (one pass to build the trigram set) plus the size of the signature table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assay.card._license.signatures import SIGNATURES, Signature

MIN_SIMILARITY = 0.5
"""Lowest score accepted as a match (``min_similarity``)."""
TITLE_FLOOR = 0.6
"""Score given by a decisive title alone; key sentences add the rest."""
NO_TITLE_WEIGHT = 0.75
"""Cap on the score of a text that has the key sentences but not the title."""

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*\+*")
_COPYRIGHT_SIGN = re.compile(r"\(c\)|©")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2013": "-", "\u2014": "-"})


@dataclass(frozen=True)
class TextMatch:
    """The best signature found in a text."""

    license_id: str
    score: float
    title: bool            # a decisive title was present
    kind: str              # "license" or "policy"


def tokens(text: str) -> list[str]:
    """Lowercase word tokens; version numbers ("3.1") and "++" stay whole, punctuation and (c) go."""
    lowered = _COPYRIGHT_SIGN.sub(" ", text.translate(_QUOTES).lower())
    return _TOKEN.findall(lowered)


def _trigrams(words: list[str]) -> set[tuple[str, str, str]]:
    return {(words[i], words[i + 1], words[i + 2]) for i in range(len(words) - 2)}


@dataclass(frozen=True)
class _Prepared:
    signature: Signature
    titles: tuple[str, ...]                                  # normalized, space-padded
    phrases: tuple[tuple[frozenset[tuple[str, str, str]], str], ...]  # (trigrams, padded text for short ones)
    excludes: tuple[str, ...]


def _pad(words: list[str]) -> str:
    return " " + " ".join(words) + " "


@lru_cache(maxsize=1)
def _prepared() -> tuple[_Prepared, ...]:
    out = []
    for sig in SIGNATURES:
        phrases = tuple((frozenset(_trigrams(tokens(p))), _pad(tokens(p))) for p in sig.phrases)
        out.append(_Prepared(sig, tuple(_pad(tokens(t)) for t in sig.titles), phrases,
                             tuple(_pad(tokens(e)) for e in sig.excludes)))
    return tuple(out)


def score_all(text: str) -> list[TextMatch]:
    """Every signature's score against ``text``, best first (ties: a title hit first, then more sentences)."""
    words = tokens(text)
    padded = _pad(words)
    grams = _trigrams(words)
    scored: list[tuple[float, bool, int, _Prepared]] = []
    for prep in _prepared():
        parts = []
        for phrase_grams, phrase_text in prep.phrases:
            if phrase_grams:
                parts.append(len(phrase_grams & grams) / len(phrase_grams))
            else:  # sentences under three words are looked up whole
                parts.append(1.0 if phrase_text in padded else 0.0)
        p = sum(parts) / len(parts) if parts else 0.0
        title = any(t in padded for t in prep.titles)
        score = TITLE_FLOOR + (1 - TITLE_FLOOR) * p if title else NO_TITLE_WEIGHT * p
        if any(e in padded for e in prep.excludes):
            score /= 2
        scored.append((score, title, len(parts), prep))
    scored.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
    return [TextMatch(p.signature.license_id, round(s, 4), t, p.signature.kind) for s, t, _, p in scored]


def best_match(text: str, min_similarity: float = MIN_SIMILARITY) -> TextMatch | None:
    """The best signature found in ``text`` when its score reaches ``min_similarity``, else None."""
    ranked = score_all(text)
    if ranked and ranked[0].score >= min_similarity:
        return ranked[0]
    return None
