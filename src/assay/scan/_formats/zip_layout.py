"""What a zip archive is (PyTorch checkpoint, TorchScript, Keras v3, NumPy .npz, plain zip) and how
each of its members is scanned."""

from __future__ import annotations

import posixpath
import zlib

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.zip_directory import ZipEntry, member_blob
from assay.scan._pickle.stream import analyze_stream
from assay.scan._source import Blob


def zip_kind(names: list[str]) -> str:
    """Classify an archive by its member names."""
    bases = {posixpath.basename(n) for n in names}
    if any(n.endswith("constants.pkl") for n in names) or any("/code/" in n or n.startswith("code/") for n in names):
        return "torchscript"
    if "data.pkl" in bases:
        return "pytorch"
    if {"config.json", "metadata.json"} <= set(names):
        return "keras"
    if names and all(n.endswith(".npy") or n.endswith("/") for n in names):
        return "npz"
    return "zip"


def _is_pickle_member(name: str) -> bool:
    base = posixpath.basename(name)
    return base.endswith((".pkl", ".pickle")) or base in ("data.pkl", "constants.pkl")


def scan_zip_members(blob: Blob, entries: list[ZipEntry], ctx: ScanContext) -> None:
    """Scan every member of an archive according to what the archive is."""
    names = [e.name for e in entries]
    kind = zip_kind(names)
    if kind != "zip":
        ctx.format(kind)
    for entry in entries:
        if entry.is_dir or entry.data_offset < 0 or entry.is_symlink:
            continue
        child = ctx.child(entry.name)
        try:
            content = member_blob(blob, entry, ctx.limits.max_decompressed_bytes)
        except ValueError as exc:
            child.error(str(exc))
            continue
        base = posixpath.basename(entry.name)
        if kind in ("pytorch", "torchscript") and _is_pickle_member(entry.name):
            _check_crc(content, entry, child)
            analyze_stream(content, child, definite=True)
        elif kind == "torchscript" and entry.name.endswith(".py") and "/code/" in f"/{entry.name}":
            from assay.scan._formats.torchscript import scan_torchscript_code

            scan_torchscript_code(content, entry.name, child)
        elif kind in ("pytorch", "torchscript") and "/data/" in f"/{entry.name}" and base.isdigit():
            head = content.head(2)
            if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a pickle where storage bytes belong
                analyze_stream(content, child, definite=False)
        elif kind == "keras" and entry.name == "config.json":
            from assay.scan._formats.keras import scan_keras_config

            scan_keras_config(content, child)
        else:
            child.scan(content, entry.name)
        error = getattr(content, "error", None)
        if error:
            child.add("AS205", Severity.MEDIUM, f"member data is corrupt: {error}")


def _check_crc(content: Blob, entry: ZipEntry, ctx: ScanContext) -> None:
    """Pickle members are read whole anyway, so their CRC costs nothing to check."""
    if content.size > ctx.limits.max_inline_bytes * 8:
        return
    actual = zlib.crc32(content.read_at(0, content.size)) & 0xFFFFFFFF
    if actual != entry.crc:
        ctx.add("AS205", Severity.LOW, f"CRC-32 of {entry.name!r} is {actual:08x}, the archive says {entry.crc:08x}",
                None, "zipfile refuses such members while torch.load reads them; scanned anyway")
