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
    from typing import Any

    from assay.scan._findings import FileReport

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


BIG_FILE_BYTES = 1 << 20
MANY_FILES = 1000


def worker_count(jobs: int, paths: list[str]) -> int:
    """How many processes scan ``paths`` (1: this process alone). ``jobs`` > 0 is taken as asked (at most one
    worker a file). ``jobs`` == 0 means one per usable CPU when the scan is big enough to pay for forking:
    two files of ``BIG_FILE_BYTES`` or more, or ``MANY_FILES`` files. Below that a fork costs more than it
    saves: every worker imports the scanners again and copies the pages it touches (benchmarks/scan_bench.py,
    2026-11-22: 39 small malicious pickles took 64 ms with two workers, 52 ms in one process; silero-vad,
    a 2.2 MB TorchScript archive and seven 1.2-2.8 MB ONNX files, 84 ms with two, 110 ms with one)."""
    if jobs <= 0:
        if len(paths) < MANY_FILES and not _two_big_files(paths):
            return 1
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(jobs, len(paths)))


def _two_big_files(paths: list[str]) -> bool:
    big = 0
    for path in paths:
        try:
            big += os.stat(path).st_size >= BIG_FILE_BYTES
        except OSError:
            continue
        if big >= 2:
            return True
    return False


def scan_in_workers(paths: list[str], scan_one: Callable[[int], FileReport], workers: int,
                    on_done: Callable[[int], None] | None = None) -> list[FileReport] | None:
    """Reports for the files ``paths`` (``scan_one(i)`` scans ``paths[i]``), computed by up to ``workers``
    forked processes; in the order of ``paths``. ``on_done(i)`` runs in this process as each file completes.
    None when not even one worker could start (no memfd, no fork, no file descriptor left); the caller then
    scans in its own process."""
    from assay.scan._findings import FileReport, Location, ScanError

    try:
        pool = _Pool(len(paths), scan_one, on_done)
    except OSError:
        return None
    finished = False
    try:
        for _ in range(workers):
            if not pool.start():
                break  # fewer workers than asked for
        if not pool.workers:
            return None
        pool.collect()
        finished = True
    finally:
        pool.close(finished)
    reports = []
    for i, path in enumerate(paths):
        if i in pool.done:
            reports.append(FileReport.from_dict(pool.done[i]))
        else:
            why = pool.failed.get(i, "its worker process stopped before reporting it" if i in pool.started
                                  else "no worker process was left to take it")
            reports.append(FileReport(path, (), 0, (), (ScanError(Location(path), why),)))
    return reports


class _Worker:
    """One worker process as the parent sees it."""

    __slots__ = ("pid", "buffer", "current")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.buffer = bytearray()
        self.current: int | None = None  # the job it said it started and has not reported yet


class _Pool:
    """The worker processes of one scan, the shared job queue and what has been reported."""

    def __init__(self, count: int, scan_one: Callable[[int], FileReport],
                 on_done: Callable[[int], None] | None) -> None:
        import select

        self.count, self.scan_one, self.on_done = count, scan_one, on_done
        self.queue = os.memfd_create("assay-scan-jobs", os.MFD_CLOEXEC)
        try:
            _write_all(self.queue, b"".join(i.to_bytes(_INDEX_BYTES, "little") for i in range(count)))
            os.lseek(self.queue, 0, os.SEEK_SET)
        except OSError:
            os.close(self.queue)
            raise
        self.workers: dict[int, _Worker] = {}  # read end of its result pipe -> worker
        self.done: dict[int, dict[str, Any]] = {}
        self.failed: dict[int, str] = {}  # job -> why it has no report
        self.started: set[int] = set()
        self.poller = select.poll()
        self.pollin = select.POLLIN
        self.starts = 0
        self.max_starts = 2 * count + 8  # replacements are bounded even if every worker dies at once

    def start(self) -> bool:
        """Fork one more worker; False when the system refuses a pipe or a process."""
        import signal

        # No signal handler may run between fork() and the bookkeeping below: a KeyboardInterrupt there
        # would leave a worker nobody stops or reaps. Signals wait; the worker unblocks them first thing.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        read_end = write_end = pid = -1
        try:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker never leaves this block
                code = 1
                try:
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    os.close(read_end)
                    for other in self.workers:
                        os.close(other)
                    code = _work(self.queue, write_end, self.scan_one, os.getppid())
                finally:
                    os._exit(code)  # no atexit handlers, no flushing of the parent's buffers
            self.workers[read_end] = _Worker(pid)
            self.poller.register(read_end, self.pollin)
            self.starts += 1
            return True
        except OSError:
            return False
        finally:
            if write_end >= 0:
                os.close(write_end)
            if read_end >= 0 and read_end not in self.workers:
                os.close(read_end)
                if pid > 0:
                    _stop([pid], grace=0.0)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def collect(self) -> None:
        """Read records until every worker has exited; replace a worker that died while jobs remain."""
        while self.workers:
            for fd, _event in self.poller.poll():
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    self._records(self.workers[fd], chunk)
                    continue
                worker = self.workers.pop(fd)
                self.poller.unregister(fd)
                os.close(fd)
                status = _reap(worker.pid)
                if status == 0:
                    continue
                if worker.current is not None:  # it died on this file: say so, and do not try it again
                    self.failed[worker.current] = f"the worker process scanning it {_describe(status)}"
                queued = os.lseek(self.queue, 0, os.SEEK_CUR) < self.count * _INDEX_BYTES
                if queued and self.starts < self.max_starts:  # the files after it still get scanned
                    self.start()

    def _records(self, worker: _Worker, chunk: bytes) -> None:
        buffer = worker.buffer
        buffer += chunk
        while len(buffer) >= _LENGTH_BYTES:
            size = int.from_bytes(buffer[:_LENGTH_BYTES], "little")
            if len(buffer) < _LENGTH_BYTES + size:
                return
            i, report = marshal.loads(bytes(buffer[_LENGTH_BYTES:_LENGTH_BYTES + size]))
            del buffer[:_LENGTH_BYTES + size]
            if report is None:  # "started i"
                worker.current = i
                self.started.add(i)
                continue
            worker.current = None
            self.done[i] = report
            if self.on_done is not None:
                self.on_done(i)

    def close(self, finished: bool) -> None:
        """Release everything; when the scan did not finish (Ctrl-C, an error), stop the workers first."""
        pids = [w.pid for w in self.workers.values()]
        for fd in self.workers:
            os.close(fd)  # a worker that writes again gets a broken pipe and exits
        self.workers.clear()
        os.close(self.queue)
        if pids:
            _stop(pids, grace=0.0 if finished else 1.0)


def _work(queue: int, out: int, scan_one: Callable[[int], FileReport], parent: int) -> int:
    """Take jobs until the queue is empty (or the parent is gone), writing "started" and then the report of
    each to ``out``. Returns the exit status."""
    try:
        while os.getppid() == parent:
            index = os.read(queue, _INDEX_BYTES)
            if len(index) < _INDEX_BYTES:
                break
            i = int.from_bytes(index, "little")
            _send(out, (i, None))  # if this process dies now, the parent knows on which file
            _send(out, (i, scan_one(i).to_dict()))
        return 0
    except KeyboardInterrupt:
        return 1
    except BaseException:  # a closed pipe, a bug: the parent reports the file without a report
        if os.environ.get("ASSAY_DEBUG"):  # the traceback the one-process scan would raise
            import traceback

            traceback.print_exc()
        return 1


def _send(fd: int, value: tuple[int, dict[str, Any] | None]) -> None:
    record = marshal.dumps(value)
    _write_all(fd, len(record).to_bytes(_LENGTH_BYTES, "little") + record)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _reap(pid: int) -> int | None:
    """Wait for ``pid`` to exit; its wait status, or None when it was reaped elsewhere."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:  # a program that ignores SIGCHLD has its children reaped for it
        return None


def _stop(pids: list[int], grace: float) -> None:
    """End the workers ``pids``: let them exit on their own for ``grace`` seconds (after Ctrl-C they are
    already unwinding, removing their temporary files), then interrupt them, then kill what is left."""
    import signal
    import time

    alive = list(pids)
    for wait, sig in ((grace, None), (grace, signal.SIGINT), (0.0, signal.SIGKILL)):
        if sig is not None:
            for pid in alive:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + wait
        while True:
            alive = [pid for pid in alive if not _exited(pid, block=sig == signal.SIGKILL)]
            if not alive or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        if not alive:
            return


def _exited(pid: int, block: bool) -> bool:
    try:
        return os.waitpid(pid, 0 if block else os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _describe(status: int | None) -> str:
    if status is None:
        return "stopped"
    if os.WIFSIGNALED(status):
        import signal

        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = " (the kernel's out-of-memory killer sends it)" if number == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {os.WEXITSTATUS(status)}" if os.WIFEXITED(status) else "stopped"
