"""A witness: signed checkpoints published to a folder the database's owner cannot rewrite.

The log signs a checkpoint with every change, but the checkpoints live beside the entries: whoever can rewrite the
database can cut its tail and drop the checkpoints that covered it, leaving an older log that verifies. A copy of
each checkpoint kept elsewhere (a write-once share, an object-locked bucket mounted as a folder, another team's
server) remembers how far the log had grown and what its root was; ``assay audit verify --witness DIR`` checks the
log against every checkpoint there, and a registry with ``ASSAY_WITNESS`` set checks the newest one before it
writes.

One file per checkpoint, named by tree size (``checkpoint-<size>.txt``), created once and never replaced: two
different checkpoints for the same size mean the log forked, and publishing the second fails. By hand, not a
library: the format is the signed note itself (C2SP tlog-checkpoint); the folder is only where it is kept.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from assay.audit._interface import AuditError
from assay.errors import InputError

MAX_WITNESS_NOTE_BYTES = 64 << 10
"""A witnessed checkpoint file larger than this is refused (a signed note is a few hundred bytes)."""
_NAME = re.compile(r"checkpoint-(\d{1,20})\.txt")


class WitnessConflict(AuditError):
    """The witness already holds a different checkpoint for the same size: the log was forked or rewritten."""

    exit_code = 1


def _path(folder: Path, size: int) -> Path:
    return folder / f"checkpoint-{size}.txt"


def publish_checkpoint(folder: Path, size: int, note: str) -> Path:
    """Write ``note`` (the signed checkpoint of a log of ``size`` entries) to the witness ``folder``, once: the
    same note again is a no-op, a different one for that size is WitnessConflict. Atomic (a temporary file linked
    into place), so a reader never sees half a note."""
    target = _path(folder, size)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if target.exists():
            if target.read_text(encoding="utf-8") != note:
                raise WitnessConflict(f"the witness {folder} already holds a different checkpoint for size {size}: "
                                      "the log was forked or rewritten (run assay audit verify --witness)")
            return target
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".checkpoint-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(note)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, target)
        except FileExistsError:  # published by another process meanwhile: it must be the same note
            return publish_checkpoint(folder, size, note)
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"cannot publish the checkpoint to the witness {folder}: {exc.strerror or exc}") from None
    return target


def _listed(folder: Path) -> list[tuple[int, Path]]:
    try:
        return sorted((int(m.group(1)), folder / entry.name) for entry in os.scandir(folder)
                      if (m := _NAME.fullmatch(entry.name)) and entry.is_file())
    except OSError as exc:
        raise InputError(f"cannot read the witness {folder}: {exc.strerror or exc}") from None


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_WITNESS_NOTE_BYTES:
            raise InputError(f"{path} is over max_witness_note_bytes ({MAX_WITNESS_NOTE_BYTES})")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def witnessed_checkpoints(folder: Path) -> list[tuple[int, str]]:
    """(size as named, signed note) of every checkpoint in the witness ``folder``, smallest first."""
    return [(size, _read(path)) for size, path in _listed(folder)]


def newest_witnessed(folder: Path) -> tuple[int, str] | None:
    """The witnessed checkpoint of the largest size, or None when the folder holds none (or does not exist)."""
    if not folder.exists():
        return None
    listed = _listed(folder)
    return (listed[-1][0], _read(listed[-1][1])) if listed else None
