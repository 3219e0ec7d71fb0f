"""Tar archives (legacy PyTorch, NeMo, plain model bundles). Compressed tars arrive here through the
compressed-stream scanner; members are windows on the (decompressed) stream.

Read with Python's own tarfile, as torch.load does (headers without the ustar magic included). Members
that torch's legacy loader would take as ``storages``, ``tensors`` or ``pickle`` (by normalised name, links
followed) are read the way it reads them, whatever their content looks like."""

from __future__ import annotations

import tarfile

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.archive_checks import check_member_name
from assay.scan._formats.interface import FormatScanner
from assay.scan._formats.torch_legacy import legacy_role, scan_legacy_member
from assay.scan._limits import LimitExceeded
from assay.scan._source import Blob, BlobIO, SliceBlob


class TarScanner(FormatScanner):
    """Uncompressed tar (ustar, GNU, pax)."""

    formats = ("tar",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        try:
            archive = tarfile.open(fileobj=BlobIO(blob), mode="r:")  # type: ignore[arg-type]
        except (tarfile.TarError, OSError, ValueError) as exc:
            ctx.add("AS205", Severity.MEDIUM, f"tar archive is unreadable: {exc}")
            return True
        count = 0
        try:
            for member in archive:
                count += 1
                if count > ctx.limits.max_members:
                    raise LimitExceeded("max_members", f"more than max_members={ctx.limits.max_members} members")
                self._member(blob, member, ctx)
                self._legacy(archive, blob, member, ctx)
        except tarfile.TarError as exc:
            ctx.add("AS205", Severity.MEDIUM, f"tar archive is corrupt after {count} members: {exc}")
        return True

    def _member(self, blob: Blob, member: tarfile.TarInfo, ctx: ScanContext) -> None:
        check_member_name(member.name, ctx, member.offset)
        if member.issym() or member.islnk():
            kind = "symbolic" if member.issym() else "hard"
            ctx.add("AS203", Severity.HIGH, f"member {member.name!r} is a {kind} link to {member.linkname!r}", member.offset)
            if member.linkname.startswith("/") or ".." in member.linkname.replace("\\", "/").split("/"):
                ctx.add("AS201", Severity.HIGH, f"link {member.name!r} points outside the archive ({member.linkname!r})",
                        member.offset)
            return
        if member.ischr() or member.isblk() or member.isfifo():
            ctx.add("AS207", Severity.MEDIUM, f"member {member.name!r} is a device or FIFO", member.offset)
            return
        if member.isfile() and legacy_role(member.name) is None:
            content = SliceBlob(blob, member.offset_data, member.size)
            ctx.child(member.name).scan(content, member.name)

    def _legacy(self, archive: tarfile.TarFile, blob: Blob, member: tarfile.TarInfo, ctx: ScanContext) -> None:
        """A member torch's legacy loader reads by name: read it that way (links resolved as tarfile does)."""
        role = legacy_role(member.name)
        if role is None:
            return
        target = _resolve_links(archive, member)
        if target is None or not target.isfile():
            return  # the loader fails on this member (a folder, a device, a link to nothing)
        content = SliceBlob(blob, target.offset_data, target.size)
        scan_legacy_member(role, content, ctx.child(f"(torch legacy {role}){member.name}"))


_MAX_LINK_HOPS = 8


def _resolve_links(archive: tarfile.TarFile, member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """The member whose data tarfile's extract/extractfile would deliver for ``member``."""
    for _ in range(_MAX_LINK_HOPS):
        if not (member.islnk() or member.issym()):
            return member
        try:
            # tarfile's own (private) resolution, so it matches the loader; AttributeError is caught if it goes away
            member = archive._find_link_target(member)  # type: ignore[attr-defined]
        except (KeyError, AttributeError):
            return None
    return None
