"""Member-name checks shared by every archive format (zip-slip, absolute paths)."""

from __future__ import annotations

import re

from assay.scan._context import ScanContext
from assay.scan._findings import Severity

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_member_name(name: str, ctx: ScanContext, offset: int | None) -> None:
    """Report a member name that extracts outside the target folder."""
    normal = name.replace("\\", "/")
    if normal.startswith("/") or _DRIVE.match(normal):
        ctx.add("AS202", Severity.HIGH, f"member {name!r} has an absolute path", offset)
    elif ".." in normal.split("/"):
        ctx.add("AS201", Severity.HIGH, f"member {name!r} escapes the extraction folder", offset)
    if "\x00" in name:
        ctx.add("AS201", Severity.HIGH, f"member name {name!r} contains a NUL byte (names differ between readers)", offset)
