"""Abstract values for the chat-template checker: what an expression can be when a template renders.

A value is either a small set of concrete Python values the template built from its own literals (so
``'__cla' ~ 'ss__'`` is exactly ``{'__class__'}``), or an opaque kind: caller data, an unknown number, a
template global (``range``, ``lipsum`` ...), the ``loop`` object, a ``namespace()`` the template made, a bound
string method. Folding is deliberately partial: an operation that is not modelled yields ``DATA`` (opaque),
and an opaque value used as an attribute name is reported, so a missing model errs towards a finding.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable

from assay.scan._record import Record

MAX_CHOICES = 32
"""Possible values tracked for one expression; more become opaque (reported if used as a name)."""
MAX_TEXT = 4096
"""Longest string folded; longer results are opaque (a '_' * 10**9 must not be built)."""


class Val(Record):
    """An abstract value. ``choices`` set: one of these concrete values; else ``kind`` says what it is."""

    choices: frozenset | None = None
    kind: str = "data"
    """data | num | global | loop | ns | method | range"""
    name: str = ""
    """The global's name, the namespace's id, or the method's name."""
    receiver: Val | None = None
    """For a bound method: what it is bound to."""

    @property
    def known(self) -> bool:
        """True when every possible value is known."""
        return self.choices is not None

    @property
    def numeric(self) -> bool:
        """True when the value can only be a number (or bool): never an attribute name."""
        if self.choices is not None:
            return all(isinstance(c, (int, float)) for c in self.choices)
        return self.kind == "num"


DATA = Val()
NUM = Val(kind="num")


def known(*values: object) -> Val:
    """A value that is one of ``values`` (hashable, small); opaque when it cannot be tracked."""
    try:
        choices = frozenset(values)
    except TypeError:
        return DATA
    if len(choices) > MAX_CHOICES or any(isinstance(c, str) and len(c) > MAX_TEXT for c in choices):
        return NUM if all(isinstance(c, (int, float)) for c in choices) else DATA
    return Val(choices)


def join(a: Val, b: Val) -> Val:
    """The value that may be either ``a`` or ``b`` (control-flow merge)."""
    if a == b:
        return a
    if a.known and b.known:
        return known(*a.choices, *b.choices)  # type: ignore[misc]
    if a.numeric and b.numeric:
        return NUM
    return DATA


def lift(fn: Callable[..., object], *args: Val) -> Val:
    """Apply a pure function to every combination of known arguments; opaque on any failure."""
    if not all(a.known for a in args):
        return DATA
    results: list[tuple[object, ...]] = [()]
    for arg in args:
        results = [r + (c,) for r in results for c in arg.choices]  # type: ignore[union-attr]
        if len(results) > MAX_CHOICES:
            return DATA
    out = []
    for combo in results:
        if _too_big(fn, combo):
            return DATA
        try:
            out.append(fn(*combo))
        except Exception:  # noqa: BLE001 - a render would fail here too; nothing to fold
            return DATA
    return known(*out)


def _too_big(fn: Callable[..., object], combo: tuple) -> bool:
    """True when ``fn(*combo)`` could allocate a huge result or compute for long (repetition, powers)."""
    if fn in (operator.mul, operator.pow):
        sizes = [len(c) if isinstance(c, (str, tuple)) else abs(c) if isinstance(c, (int, float)) else 0 for c in combo]
        return any(s > MAX_TEXT for s in sizes) or (len(sizes) == 2 and sizes[0] * sizes[1] > MAX_TEXT)
    return any(isinstance(c, (str, tuple)) and len(c) > MAX_TEXT for c in combo)


def elements(value: Val) -> Val:
    """What iterating over ``value`` yields (loop targets)."""
    if value.kind == "range":
        return NUM
    if not value.known:
        return DATA
    items: list[object] = []
    for choice in value.choices:  # type: ignore[union-attr]
        if not isinstance(choice, (str, tuple)):
            return DATA
        items.extend(choice)
    return known(*items) if items else DATA


_WIDE = re.compile(r"%[^a-zA-Z%]*\d{4,}")


def _pct(fmt: object, *args: object) -> str:
    """Jinja's ``format`` filter: printf-style with positional arguments."""
    if not isinstance(fmt, str) or _WIDE.search(fmt) or any(isinstance(a, tuple) for a in args):
        raise TypeError("format needs a string and plain arguments")
    return fmt % args


def _join(seq: object, sep: object = "") -> str:
    if not isinstance(seq, (str, tuple)) or not isinstance(sep, str):
        raise TypeError("join needs a sequence")
    return sep.join(_str(x) for x in seq)


def _reverse(seq: object) -> object:
    if isinstance(seq, (str, tuple)):
        return seq[::-1]
    raise TypeError("not a sequence")


def _as_tuple(seq: object) -> tuple:
    if isinstance(seq, (str, tuple)):
        return KList(seq)
    raise TypeError("not a sequence")


class KList(tuple):
    """A Jinja list literal (kept apart from tuples: the two print differently)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is KList and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(("KList", *self))


def _str(value: object) -> str:
    """``str()`` as Jinja prints a value; containers are refused (their printed form is not modelled)."""
    if isinstance(value, tuple):
        raise TypeError("container printed")
    return str(value)


def _escape(value: object) -> str:
    text = _str(value)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("'", "&#39;"), ('"', "&#34;")):
        text = text.replace(raw, safe)
    return text


# Jinja filters folded on template literals: every one that turns strings into strings (or a list of
# characters) an attacker could use to build a name. Others are opaque (DATA) or numbers (below).
STRING_FILTERS: dict[str, Callable[..., object]] = {
    "lower": lambda s: s.lower(), "upper": lambda s: s.upper(), "capitalize": lambda s: s.capitalize(),
    "title": lambda s: s.title(), "trim": lambda s, chars=None: s.strip(chars), "string": _str,
    "reverse": _reverse, "join": _join, "list": _as_tuple, "format": _pct, "safe": _str, "e": _escape, "escape": _escape,
    "replace": lambda s, old, new, count=-1: s.replace(old, new, count if count is not None else -1),
    "first": lambda s: s[0], "last": lambda s: s[-1], "center": lambda s, w=80: s.center(min(w, MAX_TEXT)),
}
NUMBER_FILTERS = frozenset({"length", "count", "int", "float", "abs", "round", "wordcount", "sum"})

# str methods a template may call on a literal (``'X'.lower()``), folded the same way.
STRING_METHODS: dict[str, Callable[..., object]] = {
    "lower": str.lower, "upper": str.upper, "capitalize": str.capitalize, "title": str.title,
    "swapcase": str.swapcase, "casefold": str.casefold, "strip": str.strip, "lstrip": str.lstrip,
    "rstrip": str.rstrip, "replace": str.replace, "join": lambda s, seq: _join(seq, s),
    "removeprefix": str.removeprefix, "removesuffix": str.removesuffix,
}

def _mod(left: object, right: object) -> object:
    """``%``: printf-style formatting only with a Jinja tuple or a plain value on the right (as Python does)."""
    if isinstance(left, str) and _WIDE.search(left):
        raise ValueError("huge field width")
    if isinstance(left, str) and (isinstance(right, KList) or
                                  (isinstance(right, tuple) and any(isinstance(x, tuple) for x in right))):
        raise TypeError("list formatted")
    return operator.mod(left, right)


BINARY_OPS: dict[str, Callable[[object, object], object]] = {
    "Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": operator.truediv,
    "FloorDiv": operator.floordiv, "Mod": _mod, "Pow": operator.pow,
}


def concat(parts: Iterable[Val]) -> Val:
    """Jinja's ``~``: every part as a string, joined."""
    result = known("")
    for part in parts:
        result = lift(lambda a, b: a + _str(b), result, part)  # noqa: B023 - applied at once
    return result
