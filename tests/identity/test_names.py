"""Names are identities: one spelling per person, lookalikes refused, and no input crashes the check."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay._text import identity_name, same_name
from assay.errors import UsageError


@pytest.mark.parametrize("spelling", ["alice", "ALICE", "Alice", "ａｌｉｃｅ", " alice "])
def test_every_spelling_of_one_name_is_one_identity(spelling: str) -> None:
    assert identity_name(spelling) == "alice"
    assert same_name(spelling, "alice")


@pytest.mark.parametrize("lookalike", [
    "\u0430lice",        # Cyrillic a
    "al\u0456ce",        # Cyrillic i
    "\u03b1lice",        # Greek alpha
    "ali\u200bce",       # zero-width space
    "alice\u200d",       # zero-width joiner
    "al\u00adice",       # soft hyphen
    "alice\u034f",       # combining grapheme joiner
    "ali\ufe0fce",       # variation selector
    "alice\u202e",       # right-to-left override
    "ali\nce",           # newline
    "ali\tce",           # tab
    "",                  # nothing
    "   ",               # only spaces
    "a" * 201,           # too long
])
def test_lookalikes_and_invisible_characters_are_refused(lookalike: str) -> None:
    with pytest.raises(UsageError):
        identity_name(lookalike)


def test_names_in_one_other_script_are_names() -> None:
    assert identity_name("Алиса") == "алиса"
    assert identity_name("山田たろう") == "山田たろう"
    assert identity_name("Jürgen.Müller@example.com") == "jürgen.müller@example.com"


@given(st.text(max_size=300))
@settings(max_examples=400, deadline=None)
def test_any_text_is_one_name_or_one_refusal_and_a_name_is_stable(text: str) -> None:
    try:
        name = identity_name(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert identity_name(name) == name and same_name(text, name)
