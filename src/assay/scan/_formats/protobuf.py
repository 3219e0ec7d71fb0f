"""A bounded reader of the protobuf wire format, for ONNX and TensorFlow files.

Hand-written because the generated classes need the onnx/tensorflow packages (hundreds of MB) and
parse a whole message into memory, including gigabytes of embedded weights; this reader visits
only the fields a scan needs, skips the rest by offset, and bounds depth and field count.

A message of up to ``INLINE_BYTES`` is read once; its submessages are views of those bytes. A larger
one (a graph with inline weights) is streamed, and its submessages are read when they are small.
"""

from __future__ import annotations

from collections.abc import Iterator

from assay.scan._limits import LimitExceeded
from assay.scan._source import Blob

VARINT, I64, LEN, I32 = 0, 1, 2, 5
INLINE_BYTES = 8 << 20
_STREAM_CHUNK = 1 << 20


class ProtobufError(Exception):
    """The bytes are not a well-formed protobuf message."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


class Budget:
    """Counts fields visited across one file (max_protobuf_fields)."""

    def __init__(self, max_fields: int):
        self.left = max_fields

    def spend(self, n: int = 1) -> None:
        """``n`` more fields."""
        self.left -= n
        if self.left < 0:
            raise LimitExceeded("max_protobuf_fields", "more protobuf fields than max_protobuf_fields")


class Span:
    """The bytes ``[start, end)`` of a blob, with the bytes themselves once read."""

    __slots__ = ("blob", "start", "end", "data", "base")

    def __init__(self, blob: Blob, start: int, end: int, data: bytes | memoryview | None = None, base: int = 0):
        self.blob = blob
        self.start = start
        self.end = end
        self.data = data
        self.base = base

    @classmethod
    def whole(cls, blob: Blob) -> Span:
        """The whole blob."""
        return cls(blob, 0, blob.size)

    def text(self, limit: int = 1 << 20) -> str:
        """The span as a UTF-8 string field (truncated to ``limit`` bytes)."""
        stop = min(self.end, self.start + limit)
        if self.data is not None:
            raw = bytes(self.data[self.start - self.base : stop - self.base])
        else:
            raw = self.blob.read_at(self.start, stop - self.start)
        return raw.decode("utf-8", "replace")

    def as_blob(self) -> Blob:
        """The span as a blob of its own (for bytes fields that hold another message)."""
        from assay.scan._source import BytesBlob, SliceBlob

        if self.data is not None:
            return BytesBlob(bytes(self.data[self.start - self.base : self.end - self.base]))
        return SliceBlob(self.blob, self.start, self.end - self.start)


def fields(span: Span, budget: Budget, wanted: frozenset[int] | None = None
           ) -> Iterator[tuple[int, int, int, Span | None]]:
    """Yield ``(field_number, wire_type, varint_value, sub_span)`` for each field of the message.

    ``sub_span`` is set for LEN fields (their bytes), None otherwise. With ``wanted``, only the LEN fields
    with those numbers are yielded (the others are still checked and counted): ONNX graphs hold tens of
    thousands of fields a scan does not look at; not yielding them took a fifth off silero-vad's ONNX walk.
    """
    if span.data is None and span.end - span.start <= INLINE_BYTES:
        span.data = memoryview(span.blob.read_at(span.start, span.end - span.start))
        span.base = span.start
    if span.data is not None:
        yield from _fields_in_memory(span, budget, wanted)
    else:
        yield from _fields_streamed(span, budget, wanted)


def _fields_in_memory(span: Span, budget: Budget, wanted: frozenset[int] | None) -> Iterator[tuple[int, int, int, Span | None]]:
    data, base, blob = span.data, span.base, span.blob
    assert data is not None
    i = span.start - base
    end = span.end - base
    count = 0
    while i < end:
        count += 1
        if count >= 4096:
            budget.spend(count)
            count = 0
        field_start = i
        key = data[i]  # one-byte keys and lengths (most of them) skip the varint loop: it is the hot path
        if key < 0x80:
            i += 1
        else:
            key, i = _varint(data, i, end, base)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0", base + field_start)
        if wire == VARINT:
            value, i = _varint(data, i, end, base)
            if wanted is None:
                yield number, wire, value, None
        elif wire == LEN:
            if i < end and data[i] < 0x80:
                length = data[i]
                i += 1
            else:
                length, i = _varint(data, i, end, base)
            if i + length > end:
                raise ProtobufError(f"field {number} declares {length} bytes past the end of its message",
                                    base + field_start)
            if wanted is None or number in wanted:
                yield number, wire, length, Span(blob, base + i, base + i + length, data, base)
            i += length
        elif wire == I64:
            i += 8
            if wanted is None:
                yield number, wire, 0, None
        elif wire == I32:
            i += 4
            if wanted is None:
                yield number, wire, 0, None
        else:
            raise ProtobufError(f"unsupported wire type {wire}", base + field_start)
        if i > end:
            raise ProtobufError("field runs past the end of its message", base + field_start)
    budget.spend(count)


def _varint(data: bytes | memoryview, i: int, end: int, base: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= end:
            raise ProtobufError("varint runs past the end of its message", base + i)
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes", base + i)


def _fields_streamed(span: Span, budget: Budget, wanted: frozenset[int] | None) -> Iterator[tuple[int, int, int, Span | None]]:
    """A message too large to read whole: read the keys and lengths, skip the bodies."""
    blob = span.blob
    pos, end = span.start, span.end
    while pos < end:
        budget.spend()
        head = blob.read_at(pos, min(30, end - pos))
        field_start = pos
        key, i = _varint(head, 0, len(head), pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0", field_start)
        if wire == VARINT:
            value, i = _varint(head, i, len(head), pos)
            pos += i
            if wanted is None:
                yield number, wire, value, None
        elif wire == LEN:
            length, i = _varint(head, i, len(head), pos)
            body = pos + i
            if body + length > end:
                raise ProtobufError(f"field {number} declares {length} bytes past the end of its message", field_start)
            if wanted is None or number in wanted:
                yield number, wire, length, Span(blob, body, body + length)
            pos = body + length
        elif wire in (I64, I32):
            pos += i + (8 if wire == I64 else 4)
            if wanted is None:
                yield number, wire, 0, None
        else:
            raise ProtobufError(f"unsupported wire type {wire}", field_start)
        if pos > end:
            raise ProtobufError("field runs past the end of its message", field_start)
