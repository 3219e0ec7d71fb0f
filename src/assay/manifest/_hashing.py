"""Hash files and byte ranges in parallel: large reads into a reused buffer, threads across files.

hashlib (and blake3) release the GIL while they digest a buffer, so threads scale across cores;
each job reads with ``readinto`` into one preallocated buffer per thread, which avoids the
allocation and copy of ``read``. Jobs run largest first so one big file does not start last.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assay.errors import InputError, UsageError
from assay.manifest._interface import HASH_TYPES

READ_SIZE = 1024 * 1024
"""Bytes read per call: large enough that syscalls vanish, small enough to stay in L2 (measured: 1 MiB beat 8 MiB)."""


@dataclass(frozen=True)
class HashJob:
    """One digest to compute: ``path`` bytes ``start`` to ``end`` (``end`` exclusive), called ``name``."""

    name: str
    path: str
    start: int
    end: int


def new_hasher(hash_type: str) -> Any:
    """A fresh hash object for an OMS ``hash_type``."""
    if hash_type == "sha256":
        return hashlib.sha256()
    if hash_type == "blake2b":
        return hashlib.blake2b()
    if hash_type == "blake3":
        from blake3 import blake3

        return blake3()
    raise UsageError(f"unknown hash type {hash_type!r} (known: {', '.join(HASH_TYPES)})")


_local = threading.local()


def _buffer() -> memoryview:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(READ_SIZE))
    return buf


def hash_range(job: HashJob, hash_type: str, on_bytes: Callable[[int], None] | None = None) -> bytes:
    """The digest of one job's bytes. A file that shrank under us is an error, never a short digest."""
    h = new_hasher(hash_type)
    buf = _buffer()
    try:
        fd = os.open(job.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{job.path}: {exc.strerror}") from None
    try:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, job.start, job.end - job.start, os.POSIX_FADV_SEQUENTIAL)
        if job.start:
            os.lseek(fd, job.start, os.SEEK_SET)
        with open(fd, "rb", buffering=0, closefd=False) as f:
            remaining = job.end - job.start
            while remaining > 0:
                view = buf if remaining >= READ_SIZE else buf[:remaining]
                n = f.readinto(view)
                if not n:
                    raise InputError(f"{job.path} changed while it was being hashed (it is shorter now)")
                h.update(view[:n])
                remaining -= n
                if on_bytes is not None:
                    on_bytes(n)
    except OSError as exc:
        raise InputError(f"{job.path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return h.digest()


def default_workers() -> int:
    """Threads to hash with: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def hash_jobs(jobs: Iterable[HashJob], hash_type: str, *, workers: int | None = None,
              on_bytes: Callable[[int], None] | None = None) -> dict[str, bytes]:
    """Digest every job, in parallel, largest first; returns ``{job.name: digest}``."""
    new_hasher(hash_type)  # fail early on an unknown type
    ordered = sorted(jobs, key=lambda j: j.end - j.start, reverse=True)
    count = workers or default_workers()
    if count == 1 or len(ordered) <= 1:
        return {job.name: hash_range(job, hash_type, on_bytes) for job in ordered}
    with ThreadPoolExecutor(max_workers=min(count, len(ordered)), thread_name_prefix="assay-hash") as pool:
        digests = pool.map(lambda job: hash_range(job, hash_type, on_bytes), ordered)
        return {job.name: digest for job, digest in zip(ordered, digests, strict=True)}
