"""Number arguments of pickle opcodes, read exactly as CPython's C unpickler reads them.

A scanner that reads another value than the loader (``010`` as 10 where the loader reads 8) steps over the
wrong number of joblib array bytes, or compares the wrong magic number, and the loader reads on where the
scanner stopped. Hand-written because ``strtol`` has no Python equivalent: ``int(x, 0)`` refuses ``010``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.scan._pickle.vm import Machine

_BIG_INT_DIGITS = 4300  # CPython's default int max_str_digits; longer INT/LONG lines fail to load
_SPACE = b" \t\n\v\f\r"
_DIGITS = {8: b"01234567", 10: b"0123456789", 16: b"0123456789abcdefABCDEF"}


def _strtol(text: bytes) -> tuple[int, int]:
    """(value, index where parsing stopped) as C's ``strtol(text, &end, 0)`` reads ``text`` (overflow not checked)."""
    i, n = 0, len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    negative = i < n and text[i] == 0x2D
    if i < n and text[i] in b"+-":
        i += 1
    base = 10
    if i < n and text[i] == 0x30:
        if i + 2 < n and text[i + 1] in b"xX" and text[i + 2] in _DIGITS[16]:
            base, i = 16, i + 2
        else:
            base = 8
    start = i
    digits = _DIGITS[base]
    while i < n and text[i] in digits and i - start <= _BIG_INT_DIGITS:
        i += 1
    if i == start:
        return 0, 0  # no digits: strtol leaves the end at the start of the string
    value = int(text[start:i], base)
    return (-value if negative else value), i


def py_int(m: Machine, text: bytes, base: int) -> int:
    """``PyLong_FromString(text, NULL, base)``: a C string (it ends at the first NUL), Python's int() grammar."""
    text = text.split(b"\0", 1)[0]
    if len(text) > _BIG_INT_DIGITS + 16:
        raise m.fail("integer literal longer than the interpreter accepts")
    try:
        return int(text, base)
    except ValueError:
        raise m.fail(f"invalid integer literal {text[:40]!r}") from None


def c_int(m: Machine, line: bytes) -> int:
    """The INT opcode as CPython's C unpickler reads it (``load_int``): ``strtol`` with base 0, so ``010`` is 8,
    ``0x1f`` is 31 and a NUL ends the number; on a 64-bit overflow or trailing text it retries with Python's own
    int grammar (``0o17``, ``0b1``, ``1_000``, spaces). The pure-Python unpickler (joblib's) accepts a subset of
    these and gives the same values where it does, so this reading covers both loaders."""
    value, end = _strtol(line)
    if (end == len(line) or line[end] == 0) and -(1 << 63) <= value < (1 << 63):
        return value
    return py_int(m, line, 0)
