"""NumPy .npy: a header, then raw data; an object dtype means the data is a pickle.

The header is read the way ``numpy.lib.format.read_array`` reads it: magic and version (1.0, 2.0, 3.0),
a 2- or 4-byte length, the text (latin-1, or utf-8 for 3.0) as a Python literal, retried after the
Python 2 filter (``3L`` long suffixes) for versions up to 2.0, then ``descr`` walked like
``descr_to_dtype`` (see ``npy_descr``).
"""

from __future__ import annotations

import ast
import struct

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._formats.npy_descr import NAMES, OBJECT, REJECT, UNKNOWN, classify_descr
from assay.scan._pickle.stream import analyze_stream
from assay.scan._source import Blob

_VERSIONS = {1: ("<H", "latin-1"), 2: ("<I", "latin-1"), 3: ("<I", "utf-8")}
_EXPECTED_KEYS = {"descr", "fortran_order", "shape"}
_LITERAL_ERRORS = (SyntaxError, ValueError, TypeError, MemoryError, RecursionError)


class HeaderError(Exception):
    """numpy.load raises on this header: nothing in the file is loaded."""


def filter_python2_header(text: str) -> str:
    """The header with Python 2 long suffixes removed (``3L`` -> ``3``), as numpy's ``_filter_header``
    does it: drop a NAME token ``L`` that directly follows a NUMBER token, then untokenize."""
    import io
    import tokenize  # only Python 2 headers need it; kept off the start-up path

    tokens = []
    after_number = False
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if not (after_number and token.type == tokenize.NAME and token.string == "L"):
            tokens.append(token)
        after_number = token.type == tokenize.NUMBER
    return tokenize.untokenize(tokens)


def parse_header_text(text: str, major: int) -> object:
    """The header literal, as numpy parses it; raise HeaderError where numpy raises."""
    try:
        return ast.literal_eval(text)  # literals only, never code
    except SyntaxError:
        if major > 2:
            raise HeaderError("header is not a Python literal") from None
    except _LITERAL_ERRORS as exc:
        raise HeaderError(f"header is not a Python literal ({type(exc).__name__})") from None
    import tokenize  # only Python 2 headers get here

    try:
        return ast.literal_eval(filter_python2_header(text))
    except (*_LITERAL_ERRORS, tokenize.TokenError, UnicodeError) as exc:
        raise HeaderError(f"header is not a Python literal, even after the Python 2 filter "
                          f"({type(exc).__name__})") from None


def header_problems(header: object) -> list[str]:
    """Why numpy would refuse this header dict before looking at descr (empty: it accepts it)."""
    if not isinstance(header, dict):
        return [f"header is a {type(header).__name__}, not a dict"]
    problems = []
    if set(header) != _EXPECTED_KEYS:
        problems.append(f"header keys are {sorted(map(repr, header))}, not descr, fortran_order, shape")
    shape = header.get("shape")
    if "shape" in header and not (isinstance(shape, tuple) and all(isinstance(d, int) for d in shape)):
        problems.append("shape is not a tuple of ints")
    if "fortran_order" in header and not isinstance(header["fortran_order"], bool):
        problems.append("fortran_order is not a bool")
    return problems


class NpyScanner(FormatScanner):
    """``.npy`` files (and ``.npz`` members)."""

    formats = ("npy",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        head = blob.head(12)
        if len(head) < 8:
            ctx.add("AS312", Severity.MEDIUM, ".npy header is truncated", 0)
            return True
        major, minor = head[6], head[7]
        if major not in _VERSIONS or minor != 0:
            ctx.add("AS312", Severity.MEDIUM, f".npy format version {major}.{minor}: numpy.load refuses it", 6)
            return True
        fmt, encoding = _VERSIONS[major]
        start = 8 + struct.calcsize(fmt)
        if len(head) < start:
            ctx.add("AS312", Severity.MEDIUM, ".npy header length is truncated", 8)
            return True
        (hlen,) = struct.unpack(fmt, head[8:start])
        limit = ctx.limits.max_npy_header_bytes
        if hlen > limit:
            ctx.error(f".npy header of {hlen} bytes is larger than max_npy_header_bytes={limit} (numpy.load "
                      f"with allow_pickle=True reads it)", "max_npy_header_bytes", 8)
            return True
        raw = blob.read_at(start, hlen)
        data_at = start + hlen
        if len(raw) < hlen:
            ctx.add("AS312", Severity.MEDIUM, f".npy header is truncated ({len(raw)} of {hlen} bytes)", start)
            return True
        try:
            header = parse_header_text(raw.decode(encoding), major)
        except (HeaderError, UnicodeDecodeError) as exc:
            self._refused(blob, ctx, f".npy header: {exc}; numpy.load refuses it", start, data_at)
            return True
        problems = header_problems(header)
        if problems:
            ctx.add("AS312", Severity.MEDIUM, f".npy header: {'; '.join(problems)}; numpy.load refuses it", start)
        if not isinstance(header, dict) or "descr" not in header:
            self._probe(blob, ctx, data_at)
            return True
        self._judge_descr(blob, ctx, header["descr"], start, data_at, refused=bool(problems))
        return True

    def _judge_descr(self, blob: Blob, ctx: ScanContext, descr: object, start: int, data_at: int,
                     refused: bool) -> None:
        verdict = classify_descr(descr)
        shown = _short(descr)
        if verdict == OBJECT:
            ctx.add("AS311", Severity.LOW, f"object-dtype array: numpy.load(allow_pickle=True) unpickles it "
                    f"(descr {shown})", data_at)
        elif verdict == UNKNOWN:
            ctx.add("AS112", Severity.HIGH, f".npy descr {shown} may be an object dtype in a spelling assay "
                    "cannot classify with certainty; the data is scanned as the pickle numpy.load would read",
                    start, "numpy.load(allow_pickle=True) unpickles the data of any dtype with hasobject")
        elif verdict == REJECT and not refused:
            ctx.add("AS312", Severity.MEDIUM, f".npy descr {shown} is not a dtype numpy accepts; numpy.load "
                    "refuses it", start)
        if verdict in (OBJECT, UNKNOWN):
            analyze_stream(blob, ctx, data_at, definite=True, max_pickles=1)
        elif verdict == REJECT or refused:
            self._probe(blob, ctx, data_at)

    def _refused(self, blob: Blob, ctx: ScanContext, message: str, start: int, data_at: int) -> None:
        ctx.add("AS312", Severity.MEDIUM, message, start)
        self._probe(blob, ctx, data_at)

    @staticmethod
    def _probe(blob: Blob, ctx: ScanContext, data_at: int) -> None:
        """A header numpy refuses loads nothing, but a numpy reading it differently would unpickle the data:
        report the data if (and only if) it is plainly a pickle that imports or calls something."""
        if data_at < blob.size:
            analyze_stream(blob, ctx, data_at, definite=False, max_pickles=1)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:119] + "…"


__all__ = ["NpyScanner", "filter_python2_header", "parse_header_text", "header_problems", "NAMES"]
