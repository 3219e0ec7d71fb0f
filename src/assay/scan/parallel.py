"""Scan the files of one scan side by side, in forked worker processes.

The pickle machine and the protobuf walk are Python bytecode, so threads would not overlap them: a worker
is a fork of this process, which inherits the imports and the configuration and starts in about a
millisecond. ``multiprocessing`` is not used: importing it costs more than the work it saves on a typical
model folder, and its results travel as pickles, which a pickle scanner should not load even from itself.

How the work is shared (written by hand for the reasons above):

- The index of every file, 4 bytes each, is written to an anonymous in-memory file (``memfd``) that the
  workers inherit with its file offset. Linux moves the offset of a regular file atomically, so each
  4-byte read hands the next file to exactly one worker, and a worker that finishes early takes more.
- A worker streams each report to its own pipe as a length-prefixed ``marshal`` record of plain values
  (``FileReport.to_dict``: strings, numbers, lists, dicts). Reading marshal data builds values and calls
  nothing, unlike unpickling; and the only writer is a fork of this process.
- The parent only waits for records, calls ``on_file`` as each file completes, and rebuilds the reports
  in the order the files were given. A file whose report never arrives (a worker killed, out of memory)
  becomes a scan error, exit 2: a file is never silently missing.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from assay.scan.findings import FileReport

_INDEX_BYTES = 4
_LENGTH_BYTES = 8


def available() -> bool:
    """Whether this process can fork workers safely: Linux (memfd, atomic file offsets) and a single thread,
    counting native ones (a fork copies only the calling thread; a lock another thread holds would stay
    held in the child). The command line is single-threaded; a program that embeds ``assay.scan`` next to
    thread pools (torch's, a web server's) is scanned in its own process."""
    if not sys.platform.startswith("linux") or not hasattr(os, "memfd_create"):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def worker_count(jobs: int, files: int) -> int:
    """How many processes scan ``files`` files when ``jobs`` are asked for (0: one per usable CPU)."""
    if jobs <= 0:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(jobs, files))


def scan_in_workers(paths: list[str], scan_one: Callable[[int], FileReport], workers: int,
                    on_done: Callable[[int], None] | None = None) -> list[FileReport] | None:
    """Reports for the files ``paths`` (``scan_one(i)`` scans ``paths[i]``), computed by ``workers`` forked
    processes; in the order of ``paths``. ``on_done(i)`` runs in this process as each file completes.
    None when not even one worker could start (no memfd, no fork: out of processes or memory); the caller
    then scans in its own process."""
    from assay.scan.findings import FileReport, Location, ScanError

    count = len(paths)
    try:
        queue = os.memfd_create("assay-scan-jobs", os.MFD_CLOEXEC)
    except OSError:
        return None
    children: dict[int, int] = {}  # read end of its result pipe -> pid
    try:
        _write_all(queue, b"".join(i.to_bytes(_INDEX_BYTES, "little") for i in range(count)))
        os.lseek(queue, 0, os.SEEK_SET)
        for _ in range(workers):
            parent = os.getpid()
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:  # fewer workers than asked for; none at all: the caller scans
                os.close(read_end)
                os.close(write_end)
                if not children:
                    return None
                break
            if pid == 0:  # the worker: never returns
                os.close(read_end)
                for other in children:
                    os.close(other)
                _work(queue, write_end, scan_one, parent)
            os.close(write_end)
            children[read_end] = pid
        done = _collect(children, on_done)
    finally:
        os.close(queue)
        for read_end, pid in children.items():  # normally all have exited; after Ctrl-C they are stopped here
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):  # reaped already (a program ignoring SIGCHLD)
                pass
            os.close(read_end)
    lost = "not scanned: the worker process scanning it ended without a report"
    return [FileReport.from_dict(done[i]) if i in done else
            FileReport(path, (), 0, (), (ScanError(Location(path), lost),)) for i, path in enumerate(paths)]


def _work(queue: int, out: int, scan_one: Callable[[int], FileReport], parent: int) -> None:
    """Take jobs until the queue is empty (or the parent is gone), writing each report to ``out``; then exit
    the process."""
    code = 0
    try:
        while os.getppid() == parent:
            index = os.read(queue, _INDEX_BYTES)
            if len(index) < _INDEX_BYTES:
                break
            i = int.from_bytes(index, "little")
            record = marshal.dumps((i, scan_one(i).to_dict()))
            _write_all(out, len(record).to_bytes(_LENGTH_BYTES, "little") + record)
    except BaseException:  # Ctrl-C, a closed pipe, a bug: the parent reports the jobs without a report
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers


def _collect(children: dict[int, int], on_done: Callable[[int], None] | None) -> dict[int, dict[str, object]]:
    """Read every worker's records until each pipe closes."""
    import select

    poller = select.poll()
    buffers: dict[int, bytearray] = {}
    for fd in children:
        poller.register(fd, select.POLLIN)
        buffers[fd] = bytearray()
    done: dict[int, dict[str, object]] = {}
    open_pipes = len(children)
    while open_pipes:
        for fd, _event in poller.poll():
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                poller.unregister(fd)
                open_pipes -= 1
                continue
            buffer = buffers[fd]
            buffer += chunk
            while len(buffer) >= _LENGTH_BYTES:
                size = int.from_bytes(buffer[:_LENGTH_BYTES], "little")
                if len(buffer) < _LENGTH_BYTES + size:
                    break
                i, report = marshal.loads(bytes(buffer[_LENGTH_BYTES:_LENGTH_BYTES + size]))
                del buffer[:_LENGTH_BYTES + size]
                done[i] = report
                if on_done is not None:
                    on_done(i)
    return done


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
