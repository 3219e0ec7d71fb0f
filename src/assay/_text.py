"""Text that reaches a terminal: control and bidirectional-override characters are refused on input and escaped
on output.

A newline in an actor name would forge a line of ``history``; a right-to-left override (U+202E) makes
``evil‮txt.exe`` read as ``evilexe.txt``. Names (actors, models, releases, roles, environments) may hold neither;
free text (a reason, a comment, a note) may hold line breaks and tabs but nothing else of the kind. By hand:
``unicodedata`` says which category a character is in, and no library states this policy.
"""

from __future__ import annotations

import re

from assay.errors import UsageError

# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text: bidirectional embeddings,
# overrides and isolates, the directional marks, zero-width joiners/non-joiners/spaces, the byte-order mark,
# line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def unsafe_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of ``value`` a terminal would act on or reorder, as ``U+XXXX``; None when there is none.
    ``multiline``: line breaks and tabs are allowed (free text)."""
    found = (_UNSAFE_IN_TEXT if multiline else _UNSAFE).search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def check_text(value: str, what: str, *, multiline: bool = False) -> str:
    """``value`` unchanged, or UsageError naming ``what`` and the character refused."""
    bad = unsafe_character(value, multiline=multiline)
    if bad is not None:
        kind = "free text" if multiline else "a name"
        raise UsageError(f"{what} holds the control or bidirectional character {bad}, which {kind} may not hold")
    return value


def printable(text: str) -> str:
    """``text`` with every control or bidirectional character except line breaks and tabs written as an escape
    (``\\u202e``), for a terminal: what is printed is what is stored, never what it makes the terminal do."""
    return _UNSAFE_IN_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# Scripts that may share one name: Japanese mixes these, and nothing in them is confusable with Latin letters.
_ONE_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "CJK": "CJK"}
# Default-ignorable code points outside the C categories: they render as nothing (Unicode's
# Default_Ignorable_Code_Point property, the marks and fillers among it).
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
                        "\U000e0100-\U000e01ef]")


def _script(char: str) -> str:
    import unicodedata

    word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _ONE_SCRIPT.get(word, word)


def identity_name(value: str, what: str = "the name") -> str:
    """The one spelling of a person's or a token's name that assay compares: NFKC-normalized and case-folded, so
    ``ALICE``, ``Alice`` and the full-width ``ａｌｉｃｅ`` are one person. Refused (UsageError): control, format
    and other invisible characters (a zero-width space makes a second ``alice``), letters of two scripts in one
    name (a Cyrillic ``а`` in ``аlice``), and an empty or over-long name. By hand: ``unicodedata`` gives the
    categories and names, and no small library states this policy (UTS #39's full confusable skeletons are
    not needed once mixed scripts are refused)."""
    import unicodedata

    check_text(value, what)
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold()).strip()
    if not folded or len(folded) > 200:
        raise UsageError(f"{what} must be 1 to 200 characters")
    for char in folded:
        if unicodedata.category(char)[0] == "C" or (char.isspace() and char != " ") or _IGNORABLE.match(char):
            raise UsageError(f"{what} holds the invisible character U+{ord(char):04X}, which a name may not hold")
    scripts = {_script(c) for c in folded if c.isalpha()}
    if len(scripts) > 1:
        raise UsageError(f"{what} {value!r} mixes letters of several scripts ({', '.join(sorted(scripts))}); "
                         "a name is written in one")
    return folded


def same_name(a: str, b: str) -> bool:
    """Whether two recorded names are one identity (``identity_name``); names recorded before names were
    normalized compare by their NFKC case-folded form."""
    import unicodedata

    def fold(name: str) -> str:
        return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()

    return fold(a) == fold(b)
