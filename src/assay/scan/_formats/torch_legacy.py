"""The members of a legacy (tar) PyTorch checkpoint, read the way ``torch.serialization.legacy_load`` reads them.

torch.load opens any file that is not a zip with ``tarfile.open(mode="r:")`` first. When that works it
extracts the members named ``storages``, ``tensors`` and ``pickle`` (tarfile.getmember: the LAST member of
that exact name; link targets are matched after ``os.path.normpath``), following links, and reads them
whatever their content looks like. assay takes every member whose name or normalised name is one of these
(a superset: whichever one a tarfile version picks, it was read the same way):

- ``storages``: pickle(count), then per storage pickle((key, location, storage_type)), an int64 element
  count and count * element_size raw bytes, then one last pickle (the storage views);
- ``tensors``: pickle(count), then per tensor pickle((key, storage_id, type)), int32 ndim, 4 bytes,
  ndim int64 sizes, ndim int64 strides, an int64 storage offset;
- ``pickle``: the object pickle.

So every pickle after raw storage data is reached by the loader, and assay must reach it too: it skips the
raw bytes by the same arithmetic. Where it cannot do that arithmetic (a storage type whose element size it
does not know, a count that is not a plain integer), the rest is what the loader reads and assay cannot
place: AS112, high.
"""

from __future__ import annotations

import posixpath
import struct
from collections.abc import Callable

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._pickle.values import Map, Ref, Seq, render
from assay.scan._source import Blob

LEGACY_MEMBERS = ("storages", "tensors", "pickle")

# torch.<Name>Storage (and torch.cuda.<Name>Storage) -> bytes per element (torch._utils._element_size)
_ELEMENT_SIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "LongStorage": 8, "IntStorage": 4,
    "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1, "BFloat16Storage": 2,
    "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8, "QUInt8Storage": 1, "QInt8Storage": 1,
    "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1,
}
_STORAGE_MODULES = ("torch", "torch.cuda")


def legacy_role(name: str) -> str | None:
    """``storages``/``tensors``/``pickle`` when torch's legacy loader would take this member as that one."""
    normal = posixpath.normpath(name)
    return normal if normal in LEGACY_MEMBERS else None


def _unpack3(value: object) -> tuple[object, ...] | None:
    """The three items ``a, b, c = value`` would give, when assay can know them."""
    if isinstance(value, tuple):
        items: tuple[object, ...] = value
    elif isinstance(value, Seq) and value.count == len(value.items):
        items = tuple(value.items)
    elif isinstance(value, Map) and value.count == len(value.pairs):
        items = tuple(k for k, _ in value.pairs)
    else:
        return None
    return items if len(items) == 3 else None


def _count(value: object) -> int | None:
    """A pickle's value as ``range()`` would take it: a plain integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unknown(ctx: ScanContext, what: str, offset: int, blob: Blob) -> None:
    """The loader goes on reading from ``offset`` in a way assay cannot follow: block, and scan what follows."""
    ctx.add("AS112", Severity.HIGH, f"legacy torch checkpoint: {what}; torch.load reads on from here in a way "
            "assay cannot follow", offset, "default deny: pickles after this point may run code unseen")
    _scan_rest(blob, ctx, offset)


def _scan_rest(blob: Blob, ctx: ScanContext, offset: int) -> None:
    """Bytes the loader does not (or may not) read as pickles are still searched for pickles."""
    from assay.scan._pickle.stream import analyze_stream

    if offset < blob.size:
        analyze_stream(blob, ctx.child(f"(after byte {offset})"), offset, definite=False)


def _element_size(storage_type: object) -> int | None:
    if isinstance(storage_type, Ref) and storage_type.module in _STORAGE_MODULES:
        return _ELEMENT_SIZE.get(storage_type.name)
    return None


def _records(blob: Blob, ctx: ScanContext, what: str, skip: Callable[[int, object, int], int | None]) -> int | None:
    """Read a count pickle, then that many records, each a pickle followed by raw bytes, as the loader does.

    ``skip(index, value, pos)`` gets each record's unpickled description and the position after it, and returns
    where the next record starts (None: the loader stops here). Returns the position after the last record, or
    None when the loader would stop before it.
    """
    from assay.scan._pickle.stream import run_one_pickle

    step = run_one_pickle(blob, ctx, 0)
    if step is None:
        return None
    value, pos = step
    number = _count(value)
    if number is None:
        _unknown(ctx, f"the number of {what} is {render(value)}, not an integer", pos, blob)
        return None
    for index in range(number):
        if pos >= blob.size:
            return None  # the loader fails here (end of file) before reading anything else
        step = run_one_pickle(blob, ctx, pos)
        if step is None:
            return None
        value, pos = step
        after = skip(index, value, pos)
        if after is None:
            return None
        pos = after
    return pos


def scan_storages(blob: Blob, ctx: ScanContext) -> None:
    """The ``storages`` member: pickles interleaved with raw storage bytes."""
    from assay.scan._pickle.stream import run_one_pickle

    def skip_storage(index: int, value: object, pos: int) -> int | None:
        fields = _unpack3(value)
        if fields is None:
            _unknown(ctx, f"storage {index} is described by {render(value)}, not (key, location, type)", pos, blob)
            return None
        size = _element_size(fields[2])
        if size is None:
            _unknown(ctx, f"storage {index} has type {render(fields[2])}, whose element size assay does not know",
                     pos, blob)
            return None
        raw = blob.read_at(pos, 8)
        if len(raw) < 8:
            return None
        (elements,) = struct.unpack("<q", raw)
        if elements < 0:
            return None  # torch refuses a negative size
        return pos + 8 + elements * size

    pos = _records(blob, ctx, "storages", skip_storage)
    step = run_one_pickle(blob, ctx, pos) if pos is not None and pos < blob.size else None  # the storage views
    if step is not None:
        _scan_rest(blob, ctx, step[1])


def scan_tensors(blob: Blob, ctx: ScanContext) -> None:
    """The ``tensors`` member: pickles interleaved with fixed-layout tensor headers."""

    def skip_tensor(_index: int, _value: object, pos: int) -> int | None:
        raw = blob.read_at(pos, 4)
        if len(raw) < 4:
            return None
        (ndim,) = struct.unpack("<i", raw)
        if ndim < 0:
            return None  # struct.unpack(f"<{ndim}q") raises: the loader stops
        return pos + 8 + 16 * ndim + 8

    pos = _records(blob, ctx, "tensors", skip_tensor)
    if pos is not None:
        _scan_rest(blob, ctx, pos)


def scan_legacy_member(role: str, blob: Blob, ctx: ScanContext) -> None:
    """Read one member as torch's legacy loader reads the member of that name."""
    from assay.scan._pickle.stream import analyze_stream

    ctx.format("pytorch-legacy-tar")
    if role == "storages":
        scan_storages(blob, ctx)
    elif role == "tensors":
        scan_tensors(blob, ctx)
    else:
        analyze_stream(blob, ctx, definite=True)
