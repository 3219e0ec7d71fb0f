"""Whether a ``.npy`` header's ``descr`` makes ``numpy.load`` unpickle the data, decided without numpy.

``numpy.lib.format.descr_to_dtype`` turns the header's ``descr`` into a dtype: a string goes to
``numpy.dtype(str)``, a tuple is ``(sub-descr, shape)``, and *anything else is iterated* field by field
(a list, but also a dict's keys, a set, a string of two characters), each field unpacked as
``(name, descr)`` or ``(name, descr, shape)``. ``dtype.hasobject`` then decides whether the data is a
pickle. This module mirrors that walk over the literal the header holds and answers one of four verdicts.

Strings are judged by what numpy's string parser can make of them: every spelling that yields an object
dtype contains ``O`` (the type code, with or without byte order, size or a comma/shape prefix), ``T``
(``StringDType``, which has ``hasobject``) or the word ``object`` (``object``, ``object_`` and the old
``object0``). A string with none of them cannot be an object dtype; one with them that is not a plain
object spelling is "unknown" (default deny), never "plain".
"""

from __future__ import annotations

import re

PLAIN = 0
"""No object anywhere: numpy reads raw bytes."""
REJECT = 1
"""numpy raises while building the dtype (nothing is loaded)."""
OBJECT = 2
"""An object dtype: numpy.load(allow_pickle=True) unpickles the data."""
UNKNOWN = 3
"""Cannot be told with certainty: treated as an object dtype and reported (default deny)."""

NAMES = {PLAIN: "plain", REJECT: "rejected", OBJECT: "object", UNKNOWN: "unknown"}

_MAX_DEPTH = 256  # the header is a literal, so nesting is bounded by Python's parser (about 200 levels)
# Every string numpy.dtype() maps to an object dtype contains one of these (see the module docstring).
_MAY_BE_OBJECT = re.compile(r"[OT]|object")
# The object spellings numpy's single-type parser accepts: byte order, 'O', then an optional size that
# C's strtol reads (leading white space and a sign allowed); 'T' is StringDType.
_OBJECT_CODE = re.compile(r"[<>|=]?(?:O(?:\s*[+-]?\d+)?|T)")
_OBJECT_NAMES = frozenset({"object", "object_", "object0", "Object0"})


def classify_descr(descr: object, depth: int = 0) -> int:
    """The verdict (PLAIN, REJECT, OBJECT or UNKNOWN) for one ``descr`` value, as descr_to_dtype walks it."""
    if depth > _MAX_DEPTH:
        return UNKNOWN
    if isinstance(descr, str):
        return classify_string(descr)
    if isinstance(descr, tuple):  # (sub-descr, shape); descr[2:] are never read
        if len(descr) < 2:
            return REJECT
        return _with_shape(classify_descr(descr[0], depth + 1), descr[1], depth)
    verdict = _classify_fields(descr, depth)
    if isinstance(descr, dict) and _mentions_object(list(descr.values()), depth):
        # numpy < 1.17 passed descr to numpy.dtype() whole, where a dict is a fields specification.
        verdict = max(verdict, UNKNOWN)
    return verdict


def classify_string(text: str) -> int:
    """The verdict for a dtype string (``'<f8'``, ``'|O'``, ``'object'``, ``'i4,(2,)O'`` ...)."""
    if not _MAY_BE_OBJECT.search(text):
        return PLAIN
    if text in _OBJECT_NAMES or _OBJECT_CODE.fullmatch(text):
        return OBJECT
    return UNKNOWN


def _with_shape(base: int, shape: object, depth: int) -> int:
    """numpy.dtype((base, shape)): a shape keeps the base's verdict; any other second item is another dtype
    (the "(base, new)" union form) or an error, so it is judged too."""
    if _is_shape(shape):
        return base
    return max(base, classify_descr(shape, depth + 1))


def _is_shape(value: object) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value)


def _classify_fields(descr: object, depth: int) -> int:
    """Any other descr is iterated; each item is one field."""
    if isinstance(descr, (list, dict, set, frozenset)):
        fields = list(descr)
    else:  # bytes iterate as ints (no len()), numbers and None do not iterate: numpy raises
        return REJECT
    verdict = PLAIN
    for field in fields:
        verdict = max(verdict, _classify_field(field, depth + 1))
        if verdict == UNKNOWN:
            break
    return verdict


def _classify_field(field: object, depth: int) -> int:
    """One field: ``len(field)`` is 2 (name, descr) or else it is unpacked as (name, descr, shape)."""
    if not isinstance(field, (str, tuple, list, dict, set, frozenset)):
        return REJECT  # numbers, None and bytes items have no len() (or unpack as ints)
    items = list(field)
    if len(items) not in (2, 3):
        return REJECT
    if isinstance(field, (set, frozenset)):
        # A set unpacks in hash order, which differs between processes: any item may be the descr.
        return max(classify_descr(item, depth + 1) for item in items)
    verdict = classify_descr(items[1], depth + 1)
    if len(items) == 3:
        verdict = _with_shape(verdict, items[2], depth)
    return verdict


def _mentions_object(value: object, depth: int) -> bool:
    """Whether any string inside ``value`` could name an object dtype."""
    if depth > _MAX_DEPTH:
        return True
    if isinstance(value, str):
        return classify_string(value) != PLAIN
    if isinstance(value, dict):
        return _mentions_object(list(value.items()), depth + 1)
    if isinstance(value, (tuple, list, set, frozenset)):
        return any(_mentions_object(item, depth + 1) for item in value)
    return False


__all__ = ["PLAIN", "REJECT", "OBJECT", "UNKNOWN", "NAMES", "classify_descr", "classify_string"]
