"""The structure of a ZIP archive, read tolerantly the way PyTorch's reader (miniz) reads it: central
directories, local headers, member data (see ``zip`` for why the reader is hand-written)."""

from __future__ import annotations

import struct
import zlib

from assay.scan._limits import LimitExceeded
from assay.scan._source import Blob, DecompressedBlob, SliceBlob

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.scan._source import Decompressor

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
LOCAL_HEADER = b"PK\x03\x04"


class ZipEntry:
    """One central-directory entry and where its data is (a plain class: parsed per member)."""

    __slots__ = ("name", "method", "flags", "crc", "compressed_size", "size", "header_offset", "external_attr",
                 "data_offset", "local_name")

    def __init__(self, name: str, method: int, flags: int, crc: int, compressed_size: int, size: int,
                 header_offset: int, external_attr: int):
        self.name = name
        self.method = method
        self.flags = flags
        self.crc = crc
        self.compressed_size = compressed_size
        self.size = size
        self.header_offset = header_offset
        self.external_attr = external_attr
        self.data_offset = -1
        self.local_name: str | None = None

    @property
    def is_symlink(self) -> bool:
        """Unix mode bits say symbolic link."""
        return (self.external_attr >> 16) & 0o170000 == 0o120000

    @property
    def is_dir(self) -> bool:
        """A folder entry."""
        return self.name.endswith("/")


class ZipFormatError(Exception):
    """The archive has no readable central directory."""


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & 0x800:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _zip64_extra(extra: bytes, entry: ZipEntry) -> None:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            fields = []
            for i in range(0, len(body) - 7, 8):
                fields.append(struct.unpack_from("<Q", body, i)[0])
            it = iter(fields)
            if entry.size == 0xFFFFFFFF:
                entry.size = next(it, entry.size)
            if entry.compressed_size == 0xFFFFFFFF:
                entry.compressed_size = next(it, entry.compressed_size)
            if entry.header_offset == 0xFFFFFFFF:
                entry.header_offset = next(it, entry.header_offset)
            return
        pos += 4 + length


def _eocd_candidates(blob: Blob) -> tuple[list[int], bytes, int]:
    """The end-of-central-directory records readers use, as offsets into the returned tail: the last signature
    with a whole record after it (miniz, torch's reader, skips signatures in the final 21 bytes; zipfile takes
    the last signature too, so a fake record in a comment wins for both) and the record ending exactly at the
    end of the file (zipfile's first try). Earlier signatures (a stored inner zip's) are read by no one."""
    size = blob.size
    tail_len = min(size, 65_557)
    base = size - tail_len
    tail = blob.read_at(base, tail_len)
    found: list[int] = []
    idx = tail.rfind(_EOCD)
    while idx >= 0 and len(tail) - idx < 22:
        idx = tail.rfind(_EOCD, 0, idx)
    if idx >= 0:
        found.append(idx)
    exact = len(tail) - 22
    if exact >= 0 and exact != idx and tail[exact : exact + 4] == _EOCD:
        found.append(exact)
    return found, tail, base


def _zip64_record(blob: Blob, eocd_pos: int, miniz: bool) -> tuple[tuple[int, int, int], int] | None:
    """(total, cd_size, cd_offset) and position of the zip64 record a reader uses, or None.

    zipfile reads the record right before the locator; miniz (torch's reader) reads it at the offset the
    locator stores, and then uses its values whatever the 32-bit fields say."""
    loc = blob.read_at(eocd_pos - 20, 20) if eocd_pos >= 20 else b""
    if len(loc) != 20 or not loc.startswith(_EOCD64_LOCATOR):
        return None
    record_pos = struct.unpack_from("<Q", loc, 8)[0] if miniz else eocd_pos - 20 - 56
    rec = blob.read_at(record_pos, 56) if 0 <= record_pos < blob.size else b""
    if len(rec) != 56 or not rec.startswith(_EOCD64):
        return None
    total, cd_size, cd_offset = struct.unpack_from("<QQQ", rec, 32)
    return (total, cd_size, cd_offset), record_pos


def _parse_directory(blob: Blob, start: int, cd_size: int, concat: int, max_members: int) -> list[ZipEntry]:
    directory = blob.read_at(start, cd_size)
    entries: list[ZipEntry] = []
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == _CENTRAL:
        (flags, method, _, _, crc, csize, usize, nlen, elen, clen, _, _, ext_attr, offset) = struct.unpack_from(
            "<HHHHIIIHHHHHII", directory, pos + 8)
        name_raw = directory[pos + 46 : pos + 46 + nlen]
        extra = directory[pos + 46 + nlen : pos + 46 + nlen + elen]
        entry = ZipEntry(_decode_name(name_raw, flags), method, flags, crc, csize, usize, offset, ext_attr)
        _zip64_extra(extra, entry)
        entry.header_offset += concat
        entries.append(entry)
        if len(entries) > max_members:
            raise LimitExceeded("max_members", f"more than max_members={max_members} members")
        pos += 46 + nlen + elen + clen
    return entries


def _directory_at(blob: Blob, eocd_pos: int, tail: bytes, idx: int, max_members: int,
                  miniz: bool) -> tuple[list[ZipEntry], int, int]:
    """One reader's view of the directory an EOCD record leads to: (entries, prepended bytes, directory start)."""
    _, _, _, total, cd_size, cd_offset, _ = struct.unpack_from("<HHHHIIH", tail, idx + 4)
    cd_end = eocd_pos
    zip64 = _zip64_record(blob, eocd_pos, miniz)
    if zip64 is not None:
        (total, cd_size, cd_offset), record_pos = zip64
        cd_end = record_pos
    if total > max_members:
        raise LimitExceeded("max_members", f"archive lists {total} members, more than max_members={max_members}")
    # zipfile adjusts for bytes prepended to the archive; miniz takes the stored offsets as they are
    concat = 0 if miniz else cd_end - cd_size - cd_offset
    if concat < 0 or cd_size > blob.size or cd_offset + concat > blob.size:
        raise ZipFormatError("central directory lies outside the file")
    entries = _parse_directory(blob, cd_offset + concat, cd_size, concat, max_members)
    if total and not entries:
        raise ZipFormatError("central directory is empty or corrupt")
    return entries, concat, cd_offset + concat


def all_directories(blob: Blob, max_members: int) -> list[tuple[list[ZipEntry], int, int]]:
    """Every central directory some reader may use, as (entries, prepended bytes, directory start): for each
    end-of-central-directory record a reader may take (see ``_eocd_candidates``), zipfile's view (zip64 record
    before the locator, offsets adjusted for prepended bytes) and torch's miniz view (zip64 record at the
    locator's offset, offsets as stored). Unreadable views are left out; the first readable one comes first."""
    found, tail, base = _eocd_candidates(blob)
    views: list[tuple[list[ZipEntry], int, int]] = []
    starts: set[tuple[int, int]] = set()
    for idx in found:
        for miniz in (False, True):
            try:
                entries, concat, start = _directory_at(blob, base + idx, tail, idx, max_members, miniz)
            except ZipFormatError:
                continue
            if (start, concat) not in starts:
                starts.add((start, concat))
                views.append((entries, concat, start))
    return views


def read_directory(blob: Blob, max_members: int) -> tuple[list[ZipEntry], int, int]:
    """(entries, offset where the archive starts in ``blob``, central directory offset) of the first readable
    directory (see ``all_directories``)."""
    views = all_directories(blob, max_members)
    if not views:
        raise ZipFormatError("no readable end-of-central-directory record")
    return views[0]


def locate_data(blob: Blob, entry: ZipEntry) -> str | None:
    """Fill ``data_offset``/``local_name`` from the local header; return a problem description or None."""
    header = blob.read_at(entry.header_offset, 30)
    if len(header) < 30 or header[:4] != LOCAL_HEADER:
        return "local header missing at the offset the directory gives"
    flags, _, _, _, _, _, _, nlen, elen = struct.unpack_from("<HHHHIIIHH", header, 6)
    entry.local_name = _decode_name(blob.read_at(entry.header_offset + 30, nlen), flags)
    entry.data_offset = entry.header_offset + 30 + nlen + elen
    if entry.data_offset + entry.compressed_size > blob.size:
        return "member data runs past the end of the file"
    return None


def _lzma_decompressor() -> Decompressor:
    import zipfile  # only for LZMA members: its import is not free

    maker = getattr(zipfile, "LZMADecompressor", None)  # zip's LZMA framing (header + props) as CPython reads it
    if maker is None:
        raise LimitExceeded("unsupported", "LZMA-compressed zip members are not supported by this Python")
    return maker()


def member_blob(blob: Blob, entry: ZipEntry, max_bytes: int) -> Blob:
    """The member's content: a window for stored data, a lazy decompression otherwise."""
    raw = SliceBlob(blob, entry.data_offset, entry.compressed_size)
    if entry.method == 0:
        return raw
    if entry.method == 8:
        return DecompressedBlob(raw, lambda: zlib.decompressobj(-15), max_bytes)
    if entry.method == 12:
        import bz2

        return DecompressedBlob(raw, bz2.BZ2Decompressor, max_bytes)
    if entry.method == 14:
        return DecompressedBlob(raw, _lzma_decompressor, max_bytes)
    raise ValueError(f"compression method {entry.method} is not supported")
