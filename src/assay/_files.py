"""Reading a file a user named, within a named limit: never a device, a FIFO or a folder.

``Path.read_bytes`` on ``/dev/zero`` reads until memory runs out, and on a FIFO waits for a writer forever. Every
file assay reads because a user named it (a key, a signature, a parameters or training record, a policy, an
evidence document, an artifact) goes through ``read_bounded``: the file is opened without blocking, must be a
regular file (checked on the open descriptor, so it cannot be swapped in between), and may not be larger than
the limit the caller names. By hand: the standard library has no bounded, non-blocking read of a path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from assay.errors import InputError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_bounded(path: Path | str, limit: int, limit_name: str, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; InputError (one line, naming
    ``limit_name``) for a missing or unreadable path, anything but a regular file, or a larger file."""
    data = read_prefix(path, limit + 1, what)
    if len(data) > limit:
        raise InputError(f"{what} {path} is over {limit_name} ({limit} bytes)")
    return data


def read_prefix(path: Path | str, count: int, what: str = "file") -> bytes:
    """The first ``count`` bytes of the regular file ``path`` (for a parser that names its own size limit);
    InputError for a missing or unreadable path or anything but a regular file."""
    with open_regular(path, what) as handle:
        try:
            return handle.read(count)
        except OSError as exc:
            raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def open_regular(path: Path | str, what: str = "file") -> BinaryIO:
    """The regular file ``path``, open for reading in binary (for a reader that seeks, such as a zip archive);
    InputError for a missing or unreadable path or anything but a regular file. The caller closes it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise InputError(f"{what} {path} is {kind}, not a file")
    return os.fdopen(fd, "rb")
