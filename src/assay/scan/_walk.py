"""Files, folders and the dispatch of every blob (top-level or nested) to its format scanners."""

from __future__ import annotations

import os
import stat

from assay.scan._config import ScanConfig
from assay.scan._context import Collected, ScanContext
from assay.scan._findings import FileReport, Location, ScanError, ScanReport, Severity
from assay.scan._formats import scanner_for
from assay.scan._limits import LimitExceeded
from assay.scan._sniff import promised_format, sniff
from assay.scan._source import Blob, FileBlob

TYPE_CHECKING = False  # typing and pathlib cost milliseconds of start-up; paths are strings here
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_EXECUTABLE_CONTENT = {"pickle", "zip", "joblib-zfile"}  # recognised kinds carry no "?"


def dispatch(blob: Blob, name: str, ctx: ScanContext) -> None:
    """Scan ``blob`` with every scanner its content calls for."""
    if ctx.depth > ctx.limits.max_archive_depth:
        ctx.error(f"nested deeper than max_archive_depth={ctx.limits.max_archive_depth}", "max_archive_depth")
        return
    kinds = sniff(blob, name)
    recognised: list[str] = []
    for kind in kinds:
        scanner = scanner_for(kind)
        try:
            if scanner is not None and scanner.scan(blob, name, ctx):
                recognised.append(kind.rstrip("?"))
                ctx.format(kind.rstrip("?"))
        except LimitExceeded as exc:  # this blob stops here; the archive's other members are still scanned
            ctx.error(str(exc), exc.limit)
    promised = promised_format(name)
    executable = [k for k in recognised if k in _EXECUTABLE_CONTENT and k != promised]
    if promised and executable and promised not in recognised:
        ctx.add("AS110", Severity.MEDIUM, f"named like {promised} but the content is {executable[0]}", 0,
                "loaders and scanners that trust the extension treat this file as the wrong format")


def _display(path: str) -> str:
    """``path`` written the way pathlib writes it, as reports always have: no empty or ``.`` parts, no trailing
    separator (``./models//a.pt`` -> ``models/a.pt``); ``..`` stays, since it may cross a symlink."""
    if os.altsep:
        path = path.replace(os.altsep, os.sep)
    drive, rest = os.path.splitdrive(path)
    root = os.sep if rest.startswith(os.sep) else ""
    parts = [part for part in rest.split(os.sep) if part not in ("", ".")]
    return drive + root + os.sep.join(parts) or "."


def _iter_files(root: str, config: ScanConfig, errors: list[ScanError]) -> Iterator[str]:
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: errors.append(
            ScanError(Location(str(e.filename or root)), f"cannot list folder: {e.strerror}"))):
        dirnames[:] = sorted(d for d in dirnames if d not in config.skip_dirs)
        for filename in sorted(filenames):
            count += 1
            if count > config.limits.max_files:
                errors.append(ScanError(Location(root), f"more than max_files={config.limits.max_files} files",
                                        "max_files"))
                return
            yield _display(os.path.join(dirpath, filename))


def scan_file(path: str, config: ScanConfig) -> FileReport:
    """Scan one file on disk (following a symlink to a regular file); ``path`` is also how reports name it."""
    collected = Collected()
    ctx = ScanContext(config, path, dispatch, collected, real_dir=os.path.dirname(path) or ".")
    size = 0
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            ctx.error("not a regular file (device, FIFO or socket); not read")
            return FileReport(path, (), 0, (), tuple(collected.errors))
        size = st.st_size
        if size > config.limits.max_file_bytes:
            raise LimitExceeded("max_file_bytes", f"{size} bytes exceed max_file_bytes={config.limits.max_file_bytes}")
        with FileBlob(path) as blob:
            dispatch(blob, os.path.basename(path), ctx)
    except LimitExceeded as exc:
        ctx.error(str(exc), exc.limit)
    except OSError as exc:
        ctx.error(f"cannot read: {exc.strerror or exc}")
    except RecursionError:
        ctx.error("structure nested too deeply to analyse")
    except Exception as exc:  # a scanner bug must not hide the rest of the scan; exit 2 says "not scanned"
        if os.environ.get("ASSAY_DEBUG"):
            raise
        ctx.error(f"internal error while scanning ({type(exc).__name__}: {exc}); please report it")
    return FileReport(path, tuple(collected.formats), size, tuple(collected.findings), tuple(collected.errors))


def scan_paths(paths: list[str | os.PathLike[str]], config: ScanConfig, tool_version: str = "",
               on_file: Callable[[str], None] | None = None) -> ScanReport:
    """Scan files, folders (recursively) and archives; see ``assay.scan``."""
    from assay.scan import _parallel as parallel

    errors: list[ScanError] = []
    files: list[str] = []  # each file to scan, as it is displayed
    reports: list[FileReport | None] = []  # in order; None: the report of the next entry of ``files``
    for raw in paths:
        path = os.fspath(raw)
        if not isinstance(path, str):
            raise TypeError(f"paths are str or os.PathLike[str], not {type(path).__name__}")
        if not os.path.lexists(path):
            errors.append(ScanError(Location(path), "no such file or folder"))
            continue
        if os.path.isdir(path):
            for file in _iter_files(path, config, errors):
                if os.path.islink(file) and not os.path.exists(file):
                    reports.append(FileReport(file, (), 0, (), (ScanError(Location(file), "dangling symlink"),)))
                    continue
                files.append(file)
                reports.append(None)
        else:
            files.append(path)
            reports.append(None)
    workers = parallel.worker_count(config.jobs, files)
    scanned = None
    if workers > 1 and parallel.available():
        scanned = parallel.scan_in_workers(files, lambda i: scan_file(files[i], config), workers,
                                           on_file and (lambda i: on_file(files[i])))
    if scanned is None:
        scanned = []
        for file in files:
            if on_file:
                on_file(file)
            scanned.append(scan_file(file, config))
    pending = iter(scanned)
    ordered = tuple(r if r is not None else next(pending) for r in reports)
    return ScanReport(ordered, config.fail_on, config.strict, tool_version, tuple(errors))
