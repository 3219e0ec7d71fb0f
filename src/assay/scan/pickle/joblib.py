"""joblib writes each NumPy array's bytes into the stream right after the wrapper's BUILD opcode.

The machine must step over those bytes exactly as ``joblib.numpy_pickle.NumpyArrayWrapper.read_array``
does (alignment padding, then ``count * itemsize`` bytes, or a whole nested pickle for object
arrays), or it would read array data as opcodes.
"""

from __future__ import annotations

import math
import re

from assay.scan.pickle.values import Map, Obj, Ref
from assay.scan.pickle.vm import Machine

WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"})
_TYPESTR = re.compile(r"[<>|=]?([a-zA-Z])(\d*)")
_FIXED_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8,
                "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "O": 8, "M": 8, "m": 8}


def _dtype_layout(dtype: object) -> tuple[int, bool] | None:
    """(itemsize, has_object) of a symbolic ``numpy.dtype(typestr, align, copy)`` + BUILD state."""
    if not isinstance(dtype, Obj) or not isinstance(dtype.callee, Ref) or not dtype.callee.canonical.endswith("dtype"):
        return None
    args = dtype.args
    if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
        return None
    match = _TYPESTR.fullmatch(args[0])
    if match is None:
        return None
    kind, digits = match.group(1), match.group(2)
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    elsize = state[5] if len(state) > 5 and isinstance(state[5], int) else -1
    flags = state[7] if len(state) > 7 and isinstance(state[7], int) else 0
    has_object = kind == "O" or bool(flags & 1)
    if elsize > 0:
        return elsize, has_object
    if digits:
        return int(digits), has_object
    if kind in _FIXED_SIZES:
        return _FIXED_SIZES[kind], has_object
    return None


def skip_array_data(m: Machine, inst: Obj) -> None:
    """``Machine.on_build`` hook: step over the array a joblib wrapper announces."""
    if not isinstance(inst.callee, Ref) or inst.callee.verdict.canonical not in WRAPPERS:
        return
    state = inst.state
    if not isinstance(state, Map):
        raise m._fail("joblib array wrapper without a state dict")
    shape = state.get("shape")
    layout = _dtype_layout(state.get("dtype"))
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) or layout is None:
        raise m._fail("joblib array wrapper with an unreadable shape or dtype")
    itemsize, has_object = layout
    if has_object:  # joblib calls pickle.load on the same file: a whole pickle of its own, inline
        Machine(m.cur, m.sink, m.limits, m.allow, m.strict, m.state, m.on_build).run()
        return
    if state.get("numpy_array_alignment_bytes") is not None:
        padding = m._read(1)[0]
        m.cur.skip(padding)
    m.cur.skip(math.prod(shape) * itemsize)


__all__ = ["WRAPPERS", "skip_array_data"]
