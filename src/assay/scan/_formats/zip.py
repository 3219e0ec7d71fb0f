"""ZIP archives, read tolerantly the way PyTorch's reader (miniz) reads them.

Hand-written because ``zipfile`` refuses exactly the archives an attacker builds to blind scanners
while torch.load still opens them: a wrong CRC, "encrypted" or "patched data" flag bits on data that
is not encrypted, a local header name that differs from the central directory. This reader takes
the central directory as truth (as torch does), finds data through the local header's lengths,
never verifies a CRC unless it read the member anyway, and reports every disagreement as a finding.
Stored members are windows on the file (tensor data is never read); compressed ones decompress lazily.
"""

from __future__ import annotations

import posixpath
import struct

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.archive_checks import check_member_name
from assay.scan._formats.interface import FormatScanner
from assay.scan._formats.zip_directory import LOCAL_HEADER, ZipEntry, all_directories, locate_data, member_blob
from assay.scan._formats.zip_layout import scan_zip_members
from assay.scan._limits import LimitExceeded
from assay.scan._source import Blob


class ZipScanner(FormatScanner):
    """Zip archives: PyTorch checkpoints, TorchScript, Keras v3, .npz and plain zips."""

    formats = ("zip",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        views = all_directories(blob, ctx.limits.max_members)
        if not views:
            if blob.head(4) == LOCAL_HEADER:
                ctx.add("AS205", Severity.MEDIUM, "zip archive is unreadable: no readable central directory", 0)
                return True
            return False
        entries, concat, cd_start = views[0]
        if concat > 0:
            ctx.add("AS111", Severity.HIGH, f"{concat} bytes precede the zip archive (another format is "
                    "prepended: loaders that read from the start see that instead)", 0)
        entries = entries + self._other_entries(entries, cd_start, views[1:], ctx)
        self._check_entries(blob, entries, cd_start, ctx)
        scan_zip_members(blob, entries, ctx)
        return True

    def _other_entries(self, entries: list[ZipEntry], cd_start: int, others: list[tuple[list[ZipEntry], int, int]],
                       ctx: ScanContext) -> list[ZipEntry]:
        """Entries only another reader's directory lists (torch's miniz, a fake EOCD): scanned as well."""
        seen = {(e.name, e.header_offset) for e in entries}
        extra: list[ZipEntry] = []
        for listed, _, start in others:
            new = [e for e in listed if (e.name, e.header_offset) not in seen]
            if not new:
                continue
            seen.update((e.name, e.header_offset) for e in new)
            extra += new
            ctx.add("AS206", Severity.HIGH, f"a second central directory at byte {start} lists {len(new)} member(s) "
                    f"that the directory at byte {cd_start} does not (first: {new[0].name!r})", start,
                    "torch's zip reader (miniz) and Python's zipfile resolve this archive differently; both are scanned")
            if len(entries) + len(extra) > ctx.limits.max_members:
                raise LimitExceeded("max_members", f"more than max_members={ctx.limits.max_members} members")
        return extra

    def _check_entries(self, blob: Blob, entries: list[ZipEntry], cd_start: int, ctx: ScanContext) -> None:
        seen_offsets: dict[int, str] = {}
        for entry in entries:
            check_member_name(entry.name, ctx, entry.header_offset)
            problem = locate_data(blob, entry)
            if problem:
                ctx.add("AS205", Severity.MEDIUM, f"member {entry.name!r}: {problem}", entry.header_offset)
            elif entry.local_name != entry.name:
                ctx.add("AS205", Severity.MEDIUM, f"member {entry.name!r} is called {entry.local_name!r} in its "
                        "local header", entry.header_offset, "zipfile refuses this archive; torch.load reads it")
            if entry.flags & 0x61:
                ctx.add("AS205", Severity.MEDIUM, f"member {entry.name!r} has flag bits 0x{entry.flags & 0x61:x} "
                        "(encrypted / patched data)", entry.header_offset,
                        "zipfile refuses such members; torch ignores the bits; scanned as plain data")
            if entry.is_symlink:
                ctx.add("AS203", Severity.HIGH, f"member {entry.name!r} is a symbolic link", entry.header_offset)
            if entry.header_offset in seen_offsets:
                ctx.add("AS204", Severity.HIGH, f"members {seen_offsets[entry.header_offset]!r} and {entry.name!r} "
                        "share the same data (overlapping-entry zip bomb)", entry.header_offset)
            seen_offsets[entry.header_offset] = entry.name
            if entry.compressed_size and entry.size > (1 << 20) and \
                    entry.size / entry.compressed_size > ctx.limits.max_compression_ratio:
                ctx.add("AS204", Severity.HIGH, f"member {entry.name!r} expands {entry.size // entry.compressed_size}x "
                        f"({entry.compressed_size} -> {entry.size} bytes)", entry.header_offset)
        self._check_hidden(blob, entries, cd_start, ctx)

    def _check_hidden(self, blob: Blob, entries: list[ZipEntry], cd_start: int, ctx: ScanContext) -> None:
        """Local headers in the gaps between listed members are members only some readers see."""
        spans = sorted((e.header_offset, max(e.data_offset, e.header_offset) + e.compressed_size) for e in entries)
        cursor = spans[0][0] if spans else 0
        gaps = []
        for start, end in spans:
            if start > cursor:
                gaps.append((cursor, start))
            cursor = max(cursor, end)
        if cd_start > cursor:
            gaps.append((cursor, cd_start))
        for start, end in gaps:
            window = blob.read_at(start, min(end - start, 65_536))
            at = window.find(LOCAL_HEADER)
            if at >= 0:
                hidden = ZipEntry("", 0, 0, 0, 0, 0, start + at, 0)
                header = blob.read_at(hidden.header_offset, 30)
                if len(header) == 30:
                    _, method, _, _, _, csize, usize, nlen, _ = struct.unpack_from("<HHHHIIIHH", header, 6)
                    hidden.method, hidden.compressed_size, hidden.size = method, csize or (end - start - at), usize
                    locate_data(blob, hidden)
                    hidden.name = hidden.local_name or "?"
                    ctx.add("AS206", Severity.MEDIUM, f"local entry {hidden.name!r} at byte {hidden.header_offset} is "
                            "not in the central directory", hidden.header_offset,
                            "stream readers see it, directory readers do not; it is scanned too")
                    try:
                        content = member_blob(blob, hidden, ctx.limits.max_decompressed_bytes)
                        ctx.child(f"(hidden){posixpath.basename(hidden.name)}").scan(content, hidden.name)
                    except ValueError:
                        pass
