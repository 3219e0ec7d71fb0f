"""A bounded reader of the protobuf wire format, for ONNX and TensorFlow files.

Hand-written because the generated classes need the onnx/tensorflow packages (hundreds of MB) and
parse a whole message into memory, including gigabytes of embedded weights; this reader visits
only the fields a scan needs, skips the rest by offset, and bounds depth and field count.
"""

from __future__ import annotations

from typing import Iterator

from assay.scan.limits import LimitExceeded
from assay.scan.source import Blob, Cursor

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class ProtobufError(Exception):
    """The bytes are not a well-formed protobuf message."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


class Budget:
    """Counts fields visited across one file (max_protobuf_fields)."""

    def __init__(self, max_fields: int):
        self.left = max_fields

    def spend(self) -> None:
        """One more field."""
        self.left -= 1
        if self.left < 0:
            raise LimitExceeded("max_protobuf_fields", "more protobuf fields than max_protobuf_fields")


def _varint(cur: Cursor, end: int) -> int:
    result = shift = 0
    while True:
        if cur.pos >= end:
            raise ProtobufError("varint runs past the end of its message", cur.pos)
        b = cur.read_byte()
        if b < 0:
            raise ProtobufError("truncated varint", cur.pos)
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes", cur.pos)


def fields(blob: Blob, start: int, end: int, budget: Budget) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field_number, wire_type, value, offset)`` for the message in ``blob[start:end]``.

    For LEN fields ``value`` is the length and ``offset`` where the bytes start; otherwise ``value``
    is the varint (or 0 for fixed-width fields) and ``offset`` is where the field started.
    """
    cur = Cursor(blob, start)
    while cur.pos < end:
        budget.spend()
        field_start = cur.pos
        key = _varint(cur, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0", field_start)
        if wire == VARINT:
            yield number, wire, _varint(cur, end), field_start
        elif wire == LEN:
            length = _varint(cur, end)
            at = cur.pos
            if at + length > end:
                raise ProtobufError(f"field {number} declares {length} bytes past the end of its message", field_start)
            yield number, wire, length, at
            cur.pos = at + length
        elif wire == I64:
            cur.skip(8)
            yield number, wire, 0, field_start
        elif wire == I32:
            cur.skip(4)
            yield number, wire, 0, field_start
        else:
            raise ProtobufError(f"unsupported wire type {wire}", field_start)
        if cur.pos > end:
            raise ProtobufError("field runs past the end of its message", field_start)


def text(blob: Blob, offset: int, length: int, limit: int = 1 << 20) -> str:
    """A string field (truncated to ``limit`` bytes)."""
    return blob.read_at(offset, min(length, limit)).decode("utf-8", "replace")
