"""The trusted internal copy: a version's files kept in the content-addressed store at intake, restored verified.

Intake keeps every file of an accepted version whose files total at most ``keep_max_bytes`` (default
``DEFAULT_KEEP_MAX_BYTES``): each file is streamed into the blob store under the SHA-256 of the bytes copied (the
same file in two versions is stored once), and a ``kept-files`` evidence item lists path, digest and size. The
copy is made before the write transaction (a large model must not hold the registry's write lock), and each
copied file's digest is compared with the one the manifest recorded, so the bytes kept are the bytes that were
scanned and hashed; a file changed in between fails the intake. ``assay pull`` and rollback restore the files from
the store, each re-hashed as it is written, and the restored folder must hash to the version's identity.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assay.errors import InputError, UsageError

KEPT_FILES = "kept-files"
"""The evidence kind of the list of a version's kept files."""
DEFAULT_KEEP_MAX_BYTES = 4 << 30
"""A version whose files total more than this is not kept (``--keep-max-bytes``; 0 keeps nothing)."""


def keep(blobs: Any, path: Path, manifest: Any, total_bytes: int, max_bytes: int) -> bytes | None:
    """Copy the manifest's files under the model folder ``path`` (or the single model file ``path``) into
    ``blobs``; the ``kept-files`` document, or None when the version is over ``max_bytes``."""
    if max_bytes <= 0 or total_bytes > max_bytes:
        return None
    files = []
    for r in manifest.resources:
        # a single file's manifest names it "."; it is kept (and restored) under its own name
        source, name = (path, path.name) if path.is_file() else (path / r.name, r.name)
        known = f"sha256:{r.hex}" if r.algorithm == "sha256" else None
        if known is not None and blobs.exists(known) and blobs.size(known) == source.stat().st_size:
            files.append({"path": name, "digest": known, "size": blobs.size(known)})  # kept already: stored once
            continue
        stored = blobs.put_file(source)
        if r.algorithm == "sha256" and stored.digest != f"sha256:{r.hex}":
            raise InputError(f"{source} changed while it was being taken in (it no longer hashes to what was "
                             "scanned); nothing was recorded: run intake again")
        files.append({"path": name, "digest": stored.digest, "size": stored.size})
    return json.dumps({"schema": "assay.kept-files/1.0", "files": files}, indent=1, sort_keys=True).encode()


def kept_files(data: bytes) -> list[dict[str, Any]]:
    """The files a ``kept-files`` document lists (path, digest, size)."""
    try:
        doc = json.loads(data)
        files = doc["files"]
        return [{"path": str(f["path"]), "digest": str(f["digest"]), "size": int(f["size"])} for f in files]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the kept-files list is not readable ({exc}): it was changed outside assay") from None


def restore(blobs: Any, files: list[dict[str, Any]], target: Path) -> None:
    """Write ``files`` from ``blobs`` under ``target`` (which must not escape it), each checked against its digest."""
    root = target.resolve()
    for f in files:
        dest = (target / f["path"]).resolve()
        if not dest.is_relative_to(root) or dest == root:
            raise InputError(f"kept file {f['path']!r} would be written outside {target}: the list was changed "
                             "outside assay")
        dest.parent.mkdir(parents=True, exist_ok=True)
        blobs.copy_out(f["digest"], dest)


@contextmanager
def restored(blobs: Any, files: list[dict[str, Any]]) -> Iterator[Path]:
    """The kept files restored into a temporary folder, removed afterwards (what rollback re-hashes)."""
    with tempfile.TemporaryDirectory(prefix="assay-restore-") as tmp:
        restore(blobs, files, Path(tmp))
        yield Path(tmp)


def pull_into(blobs: Any, files: list[dict[str, Any]], identity: str, target: Path) -> None:
    """Restore the kept files into the new or empty folder ``target`` and check that it hashes to ``identity``; on
    any failure the folder is left as it was found."""
    from assay.manifest import hash_model

    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty folder: nothing was written")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        restore(blobs, files, target)
        found = hash_model(target).identity
        if found != identity:
            raise InputError(f"the files restored hash to {found}, not the version's identity {identity}")
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in list(target.iterdir()):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise
