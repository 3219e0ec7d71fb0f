"""joblib writes each NumPy array's bytes into the stream right after the wrapper's BUILD opcode.

joblib's ``NumpyUnpickler.load_build`` checks, after every BUILD, whether the object on top of the stack
is a ``NumpyArrayWrapper`` or an old ``NDArrayWrapper`` and then reads the array:

- ``NumpyArrayWrapper.read_array``: ``count`` is the product of ``numpy.int64(x)`` for every ``x`` in
  ``shape`` (int64 arithmetic, which wraps); an object dtype (``dtype.hasobject``) is a whole nested pickle
  read by a plain ``pickle._Unpickler``; otherwise an optional alignment byte and padding, then
  ``count * dtype.itemsize`` bytes.
- ``NDArrayWrapper.read``: ``numpy.load(dirname/filename, allow_pickle=True)`` of a side file.
- ``ZNDArrayWrapper.read``: a zlib side file turned into an array with ``ndarray.__setstate__`` (no pickle).

The machine must step over those bytes exactly as the loader does, or it would read array data as
opcodes (or opcodes as array data). Where it cannot compute what the loader reads, that is finding
AS112 (high) and the stream stops there.
"""

from __future__ import annotations

import math
import re

from assay.scan._findings import Severity
from assay.scan._pickle.values import Bytes, Map, Obj, Opaque, Ref, Seq, render
from assay.scan._pickle.vm import Machine

_PREFIXES = ("joblib.numpy_pickle.", "sklearn.externals.joblib.numpy_pickle.")
NUMPY_WRAPPERS = frozenset(p + "NumpyArrayWrapper" for p in _PREFIXES)
ND_WRAPPERS = frozenset(p + n for p in (*_PREFIXES, "joblib.numpy_pickle_compat.",
                                        "sklearn.externals.joblib.numpy_pickle_compat.") for n in ("NDArrayWrapper",))
Z_WRAPPERS = frozenset(n.replace("NDArrayWrapper", "ZNDArrayWrapper") for n in ND_WRAPPERS)
WRAPPERS = NUMPY_WRAPPERS | ND_WRAPPERS | Z_WRAPPERS
# How a pickle creates an instance without calling __init__ (protocol 0/1 and 2+ reductions).
_RECONSTRUCTORS = frozenset({"copyreg._reconstructor", "copy_reg._reconstructor", "copyreg.__newobj__",
                             "copy_reg.__newobj__"})
_OBJECT = frozenset({"builtins.object", "__builtin__.object"})
_DTYPES = frozenset({"numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"})
_SCALARS = frozenset({"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"})
_TYPESTR = re.compile(r"[<>|=]?([a-zA-Z?])(\d*)")
_FIXED_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8, "p": 8,
                "P": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "O": 8, "M": 8, "m": 8}
_SIZED_KINDS = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8, 12, 16), "c": (8, 16, 24, 32)}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MISSING = object()


# The constructor parameters of each wrapper class, in order; each is stored as the attribute of that name.
_INIT_PARAMS: dict[str, tuple[str, ...]] = {
    **{name: ("subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes")
       for name in NUMPY_WRAPPERS},
    **{name: ("filename", "subclass", "allow_mmap") for name in ND_WRAPPERS},
    **{name: ("filename", "init_args", "state") for name in Z_WRAPPERS},
    "": (),
}


class Unknown(Exception):
    """What the loader would read here cannot be computed (reported as AS112)."""


# ---- which objects are wrappers, and their attributes ---------------------------------------------------
def wrapper_class(inst: Obj) -> str | None:
    """The canonical wrapper class ``inst`` is an instance of, or None."""
    callee = inst.callee
    if not isinstance(callee, Ref):
        return None
    if _names(callee) & _RECONSTRUCTORS and isinstance(inst.args, tuple) and inst.args:
        callee = inst.args[0]
        if not isinstance(callee, Ref):
            return None
    found = _names(callee) & WRAPPERS
    return min(found) if found else None


def _names(ref: Ref) -> set[str]:
    return {ref.canonical, ref.verdict.canonical}


def _attributes(m: Machine, inst: Obj) -> dict[str, object]:
    """The wrapper's ``__dict__`` after this BUILD: earlier BUILDs of the same object (through the memo),
    then the state dict, then the slot-state dict (set with setattr), as ``load_build`` applies them."""
    store: dict[int, tuple[Obj, dict[str, object]]] = m.__dict__.setdefault("_joblib_wrappers", {})
    attrs = store.setdefault(id(inst), (inst, {}))[1]
    callee = inst.callee
    assert isinstance(callee, Ref)  # the caller found a wrapper class through it (wrapper_class)
    if _names(callee) & _RECONSTRUCTORS:
        args = inst.args
        base = args[1] if isinstance(args, tuple) and len(args) > 1 else None
        if _names(callee) & {"copyreg._reconstructor", "copy_reg._reconstructor"} and not (
                isinstance(base, Ref) and _names(base) & _OBJECT):
            raise Unknown(f"wrapper reconstructed through {render(base)}")
    elif isinstance(inst.args, tuple) and inst.args:
        # Created by calling the class: __init__ stores its arguments as attributes of the same names.
        params = _INIT_PARAMS[wrapper_class(inst) or ""]
        if len(inst.args) > len(params):
            raise Unknown("wrapper created with more arguments than its constructor takes")
        attrs.update(zip(params, inst.args, strict=False))
    state = inst.state
    parts = list(state) if isinstance(state, tuple) and len(state) == 2 else [state]
    for part in parts:
        if part is None:
            continue
        if not isinstance(part, Map) or part.count != len(part.pairs):
            raise Unknown(f"wrapper state {render(part)}")
        for key, value in part.pairs:
            if isinstance(key, str):
                attrs[key] = value
    return attrs


# ---- numpy.int64 and dtypes, symbolically ---------------------------------------------------------------
def _wrap64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


def _int64(m: Machine, value: object) -> int:
    """``numpy.int64(value)``; PickleBreak where numpy raises."""
    if isinstance(value, Obj):
        return _scalar(m, value)
    if isinstance(value, Bytes):
        if value.data is None:
            raise Unknown("a huge bytes value in the shape")
        value = value.data
    if isinstance(value, float):
        if not math.isfinite(value):
            raise m.fail(f"numpy.int64({value!r}) raises")
        value = int(value)
    elif isinstance(value, (str, bytes)):
        try:
            value = int(value)
        except ValueError:
            raise m.fail(f"numpy.int64({value!r}) raises") from None
    if not isinstance(value, int):
        raise Unknown(f"shape item {render(value)}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise m.fail(f"numpy.int64({value}) overflows")
    return int(value)


def _scalar(m: Machine, obj: Obj) -> int:
    """A numpy scalar pickled as ``numpy.core.multiarray.scalar(dtype, bytes)``."""
    if not (isinstance(obj.callee, Ref) and _names(obj.callee) & _SCALARS and isinstance(obj.args, tuple)
            and len(obj.args) == 2 and isinstance(obj.args[1], Bytes) and obj.args[1].data is not None):
        raise Unknown(f"shape item {render(obj)}")
    kind, size, order = _typestr(obj.args[0])
    data = obj.args[1].data
    if len(data) != size:
        raise Unknown("numpy scalar whose bytes do not match its dtype")
    if kind == "?":
        return int(any(data))
    if kind in "iu":
        number = int.from_bytes(data, "big" if order == ">" else "little", signed=kind == "i")
        return _wrap64(number) if kind == "u" else number
    if kind == "f" and size in (4, 8):
        import struct

        (value,) = struct.unpack((">" if order == ">" else "<") + ("f" if size == 4 else "d"), data)
        return _int64(m, value)
    raise Unknown(f"numpy scalar of kind {kind!r}")


def _typestr(dtype: object) -> tuple[str, int, str]:
    """(kind, itemsize, byte order) of a plain ``numpy.dtype(typestr, ...)`` value."""
    if not (isinstance(dtype, Obj) and isinstance(dtype.callee, Ref) and _names(dtype.callee) & _DTYPES):
        raise Unknown(f"dtype {render(dtype)}")
    args = dtype.args
    if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
        raise Unknown(f"dtype {render(dtype)}")
    match = _TYPESTR.fullmatch(args[0])
    if match is None:
        raise Unknown(f"dtype string {args[0]!r}")
    kind, digits = match.group(1), match.group(2)
    order = args[0][0] if args[0][0] in "<>|=" else "="
    if kind in _SIZED_KINDS and digits:
        if int(digits) not in _SIZED_KINDS[kind]:
            raise Unknown(f"dtype string {args[0]!r}")
        return "?" if kind == "b" else kind, int(digits), order
    if kind in "SaV":
        return kind, int(digits or 0), order
    if kind == "U":
        return kind, 4 * int(digits or 0), order
    if kind == "O" and digits in ("", "4", "8"):
        return kind, 8, order
    if kind in "Mm" and digits in ("", "8"):
        return kind, 8, order
    if kind in _FIXED_SIZES and not digits:
        return {"b": "i", "l": "i", "L": "u", "q": "i", "Q": "u", "p": "i", "P": "u", "h": "i", "H": "u", "B": "u",
                "I": "u", "d": "f", "e": "f", "g": "f"}.get(kind, kind), _FIXED_SIZES[kind], order
    raise Unknown(f"dtype string {args[0]!r}")


def dtype_layout(dtype: object) -> tuple[int, bool]:
    """(itemsize, hasobject) of ``numpy.dtype(typestr, align, copy)`` plus its BUILD state. numpy's
    ``__setstate__`` (state version 3 or 4) takes ``hasobject`` from the flags (bit 0) and the item size of
    flexible kinds (S, U, V) from ``elsize``; where the flags and the type disagree, numpy versions may too."""
    kind, itemsize, _ = _typestr(dtype)
    state = dtype.state if isinstance(dtype, Obj) else None
    has_object = kind == "O"
    if state is not None:
        if not (isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4)
                and isinstance(state[5], int) and isinstance(state[7], int)):
            raise Unknown(f"dtype state {render(state)}")
        flagged = bool(state[7] & 1)
        hinted = kind == "O" or any(_mentions_object(part) for part in (state[2], state[4]))
        if flagged != hinted:
            raise Unknown(f"dtype {kind!r} whose object flag ({flagged}) disagrees with its fields")
        has_object = flagged
        if kind in "SaUV" and state[5] != -1:
            itemsize = state[5]
    if itemsize <= 0 and not has_object:
        raise Unknown(f"dtype with item size {itemsize}")
    return itemsize, has_object


def _mentions_object(value: object, depth: int = 0) -> bool:
    """Whether a dtype's subarray or fields (a state part) hold an object dtype."""
    if depth > 32:
        return True
    if isinstance(value, Obj):
        try:
            return dtype_layout(value)[1]
        except Unknown:
            return True
    if isinstance(value, Map):
        return any(_mentions_object(v, depth + 1) for _, v in value.pairs) or value.count != len(value.pairs)
    if isinstance(value, tuple):
        return any(_mentions_object(v, depth + 1) for v in value)
    return isinstance(value, (Seq, Opaque))


def _shape_items(shape: object) -> list[object]:
    """What ``for x in shape`` yields (and ``len(shape)``)."""
    if isinstance(shape, tuple):
        return list(shape)
    if isinstance(shape, Seq) and shape.kind == "list" and shape.count == len(shape.items):
        return list(shape.items)
    if isinstance(shape, str):
        return list(shape)
    if isinstance(shape, Bytes) and shape.data is not None:
        return list(shape.data)
    if isinstance(shape, Map) and shape.count == len(shape.pairs):
        return list(dict.fromkeys(k for k, _ in shape.pairs))  # keys that are not hashable never get here
    raise Unknown(f"shape {render(shape)}")


def element_count(m: Machine, shape: object) -> int:
    """``numpy.multiply.reduce([numpy.int64(x) for x in shape])`` (1 for an empty shape), wrapping as int64."""
    items = _shape_items(shape)
    count = 1
    for item in items:
        count = _wrap64(count * _int64(m, item))
    return count


# ---- the hook --------------------------------------------------------------------------------------------
def skip_array_data(m: Machine, inst: Obj) -> None:
    """``Machine.on_build`` hook: read what joblib's loader reads after a wrapper's BUILD."""
    cls = wrapper_class(inst)
    if cls is None:
        return
    try:
        attrs = _attributes(m, inst)
        if cls in NUMPY_WRAPPERS:
            _read_array(m, attrs)
        else:
            _side_file(m, attrs, cls in Z_WRAPPERS)
    except Unknown as exc:
        m.sink.add("AS112", Severity.HIGH, f"joblib array wrapper at byte {inst.offset}: assay cannot compute "
                   f"what joblib.load reads after it ({exc})", m.cur.pos,
                   "joblib.load reads on from here; the rest of the stream was not analysed")
        raise m.fail(f"joblib array wrapper assay cannot follow ({exc})") from None


def _read_array(m: Machine, attrs: dict[str, object]) -> None:
    shape, dtype = attrs.get("shape", _MISSING), attrs.get("dtype", _MISSING)
    if shape is _MISSING or dtype is _MISSING:
        raise m.fail("joblib array wrapper without shape or dtype (joblib.load raises)")
    itemsize, has_object = dtype_layout(dtype)
    if has_object:
        unknown = None
        try:
            element_count(m, shape)
        except Unknown as exc:
            unknown = exc
        # joblib reads the object array with a plain pickle Unpickler: no array wrappers in there.
        Machine(m.cur, m.sink, m.limits, m.allow, m.strict, m.state, None).run()
        if unknown is not None:
            raise unknown
        return
    count = element_count(m, shape)
    if count < 0:
        raise m.fail(f"joblib array of {count} elements (numpy.empty raises)")
    if attrs.get("numpy_array_alignment_bytes") is not None:
        m.cur.skip(m.read(1)[0])
    m.cur.skip(count * itemsize)


def _side_file(m: Machine, attrs: dict[str, object], zfile: bool) -> None:
    name = attrs.get("filename", _MISSING)
    if name is _MISSING:
        raise m.fail("joblib NDArrayWrapper without a filename (joblib.load raises)")
    sink = m.sink
    scan_side_file = getattr(sink, "scan_side_file", None) or getattr(getattr(sink, "ctx", None), "scan_side_file", None)
    if scan_side_file is None:  # a sink that cannot open files (a held buffer): nothing to say yet
        raise Unknown("side file named by a stream assay cannot place")
    scan_side_file(name, zfile, m.op_start)


__all__ = ["WRAPPERS", "NUMPY_WRAPPERS", "ND_WRAPPERS", "Z_WRAPPERS", "skip_array_data", "dtype_layout",
           "element_count", "wrapper_class"]
