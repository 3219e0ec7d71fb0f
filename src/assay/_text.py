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
