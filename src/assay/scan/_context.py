"""The state one file's scan carries through nested formats: where we are, what we found."""

from __future__ import annotations

import os
from collections.abc import Callable

from assay.scan._config import ScanConfig
from assay.scan._findings import Finding, Location, ScanError, Severity
from assay.scan._source import Blob, BytesBlob

Dispatch = Callable[[Blob, str, "ScanContext"], None]


class Collected:
    """Findings, errors and formats gathered for one top-level file."""

    __slots__ = ("findings", "errors", "formats")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.errors: list[ScanError] = []
        self.formats: list[str] = []


class ScanContext:
    """Where a parser is (path, member chain, depth) and where it reports.

    ``dispatch`` scans a nested blob by content; parsers call ``child`` for archive members and ``scan``
    to scan one by content.
    """

    def __init__(self, config: ScanConfig, path: str, dispatch: Dispatch, collected: Collected | None = None,
                 member: str | None = None, depth: int = 0, real_dir: str | None = None):
        self.config = config
        self.path = path
        self.member = member
        self.depth = depth
        self.collected = collected or Collected()
        self._dispatch = dispatch
        self.real_dir = real_dir

    @property
    def limits(self):  # noqa: ANN201 - ScanLimits; kept short for parsers
        """The configured limits."""
        return self.config.limits

    def location(self, offset: int | None = None) -> Location:
        """This place, at an optional byte offset."""
        return Location(self.path, self.member, offset)

    def add(self, rule: str, severity: Severity, message: str, offset: int | None = None,
            detail: str | None = None) -> None:
        """Report a finding here."""
        self.collected.findings.append(Finding(rule, severity, message, self.location(offset), detail))

    def error(self, message: str, limit: str | None = None, offset: int | None = None) -> None:
        """Report that something here could not be scanned."""
        self.collected.errors.append(ScanError(self.location(offset), message, limit))

    def read_whole(self, blob: Blob, limit_name: str, what: str) -> str | None:
        """The blob as text when it fits within the named limit; else None, reported as a scan error."""
        limit = getattr(self.limits, limit_name)
        if blob.size > limit:
            self.error(f"{what} of {blob.size} bytes is larger than {limit_name}={limit}", limit_name)
            return None
        return blob.read_at(0, blob.size).decode("utf-8-sig", "replace")

    def format(self, name: str) -> None:
        """Record a format seen in this file."""
        if name not in self.collected.formats:
            self.collected.formats.append(name)

    def child(self, member: str) -> ScanContext:
        """The context of a member (archive entry, nested payload) one level deeper."""
        chain = member if self.member is None else f"{self.member}!{member}"
        return ScanContext(self.config, self.path, self._dispatch, self.collected, chain, self.depth + 1,
                           self.real_dir)

    def scan(self, blob: Blob, name: str) -> None:
        """Scan a nested blob by its content (``name`` is only a hint)."""
        self._dispatch(blob, name, self)

    def scan_nested_pickle(self, data: bytes, label: str) -> Severity | None:
        """Scan a payload that a pickle passes to a deserializer; return the worst severity found."""
        from assay.scan._pickle.stream import analyze_stream  # the pickle machine loads only when needed

        before = len(self.collected.findings)
        child = self.child(label)
        if child.depth > self.limits.max_archive_depth:
            child.error("nested payloads deeper than max_archive_depth", "max_archive_depth")
            return Severity.HIGH
        analyze_stream(BytesBlob(data), child, definite=True)
        return max((f.severity for f in self.collected.findings[before:]), default=None)

    # ---- side files (appended for joblib's NDArrayWrapper) ------------------------------------------------
    def side_file_dir(self) -> str | None:
        """The folder a loader resolves this stream's side files against: the top-level file's folder, when
        this stream is that file or a decompressed stream of it; None inside archives (unknowable)."""
        if self.real_dir is None:
            return None
        for part in (self.member or "").split("!") if self.member else ():
            if not part.startswith(_STREAM_LAYERS):
                return None
        return self.real_dir

    def scan_side_file(self, name: object, raw_data: bool, offset: int | None = None) -> None:
        """Check and scan a side file that a joblib ``NDArrayWrapper`` names (``raw_data``: a ZNDArrayWrapper's
        zlib file, which is read as bytes, not unpickled). Report AS313: low when the file is inside the folder
        (and scanned, whatever folder the walk skips), high when the loader would read a file assay cannot
        see: an absolute name, ``..``, a symlink out of the folder, a missing file, or no folder to resolve in.
        """
        what = "zlib array file" if raw_data else "numpy.load(allow_pickle=True) file"
        problem, path = _resolve_side_file(self.side_file_dir(), name)
        if problem is not None:
            self.add("AS313", Severity.HIGH, f"joblib side file {name!r} ({what}): {problem}; assay cannot "
                     "tell what joblib.load reads", offset)
            return
        self.add("AS313", Severity.LOW, f"joblib side file {name!r} ({what}) is read from the model folder"
                 + ("" if raw_data else "; it is scanned"), offset)
        if raw_data:
            return
        from assay.scan._source import FileBlob

        child = self.child(f"(side file){name}")
        if child.depth > self.limits.max_archive_depth:
            child.error("side files nested deeper than max_archive_depth", "max_archive_depth")
            return
        try:
            with FileBlob(path) as blob:
                child.scan(blob, str(name))
        except OSError as exc:
            child.error(f"cannot read side file: {exc.strerror or exc}")


_STREAM_LAYERS = tuple(f"({kind})" for kind in ("gzip", "bzip2", "xz", "lz4", "zlib", "lzma-alone", "joblib-zfile"))


def _resolve_side_file(folder: str | None, name: object) -> tuple[str | None, str]:
    """(problem or None, path) for a side file name as ``os.path.join(dirname, name)`` resolves it."""
    if folder is None:
        return "the pickle is inside an archive, so its folder is unknown", ""
    if not isinstance(name, str) or not name or "\0" in name:
        return "the name is not a plain file name", ""
    if os.path.isabs(name) or os.path.splitdrive(name)[0]:
        return "the name is absolute", ""
    parts = name.replace(os.altsep or os.sep, os.sep).split(os.sep)
    if ".." in parts:
        return "the name leaves the folder ('..')", ""
    path = os.path.join(folder, name)
    root = os.path.realpath(folder)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        return "a symlink leads out of the folder", ""
    if not os.path.isfile(real):
        return "the file is missing", ""
    return None, path
