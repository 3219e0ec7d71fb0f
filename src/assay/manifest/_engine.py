"""Model folder -> manifest: list the files, cut them into jobs, hash the jobs, order the resources."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from assay.errors import UsageError
from assay.manifest._hashing import HashJob, hash_jobs, new_hasher
from assay.manifest._interface import (
    DEFAULT_SHARD_SIZE,
    GIT_IGNORES,
    HASH_TYPES,
    MAX_DEPTH,
    MAX_FILES,
    SIGNATURE_NAME,
    Manifest,
    Method,
    Resource,
    Serialization,
    resource_algorithm,
    sort_key,
)
from assay.manifest._walk import ModelFile, list_files


def model_name(model_path: Path) -> str:
    """The name OMS records for a model: the last component of its path."""
    name = model_path.name
    if not name or name == "..":
        name = model_path.resolve().name
    return name


def plan_jobs(files: Iterable[ModelFile], serialization: Serialization) -> list[HashJob]:
    """The digests a serialization needs: one per file, or one per shard of every non-empty file."""
    if serialization.method == "files":
        return [HashJob(f.name, f.path, 0, f.size) for f in files]
    size = serialization.shard_size or DEFAULT_SHARD_SIZE
    jobs = []
    for f in files:
        # Empty files have no shards, as in the reference; a shards manifest cannot see them.
        for start in range(0, f.size, size):
            end = min(start + size, f.size)
            jobs.append(HashJob(f"{f.name}:{start}:{end}", f.path, start, end))
    return jobs


def compute_manifest(model_path: Path, serialization: Serialization, *, name: str | None = None,
                     only: set[str] | None = None, workers: int | None = None,
                     on_bytes: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None,
                     max_files: int = MAX_FILES, max_depth: int = MAX_DEPTH) -> Manifest:
    """Hash ``model_path`` exactly as ``serialization`` says (the verifier's entry point).

    ``only``: file names to hash, all others being left out (``--allow-unsigned-files``).
    """
    files = list_files(model_path, serialization.ignore_paths, allow_symlinks=serialization.allow_symlinks,
                       max_files=max_files, max_depth=max_depth)
    if only is not None:
        files = [f for f in files if f.name in only]
    jobs = plan_jobs(files, serialization)
    if on_total is not None:
        on_total(sum(j.end - j.start for j in jobs))
    digests = hash_jobs(jobs, serialization.hash_type, workers=workers, on_bytes=on_bytes)
    names = sorted(digests, key=lambda n: sort_key(n, serialization.method))
    algorithm = resource_algorithm(serialization)
    resources = tuple(Resource(n, algorithm, digests[n]) for n in names)
    return Manifest(name or model_name(model_path), serialization, resources)


def hash_model(model_path: str | os.PathLike[str], *, hash_type: str = "sha256", shard_size: int | None = None,
               ignore: Iterable[str | os.PathLike[str]] = (), ignore_git: bool = True, allow_symlinks: bool = False,
               workers: int | None = None, on_bytes: Callable[[int], None] | None = None,
               on_total: Callable[[int], None] | None = None, max_files: int = MAX_FILES,
               max_depth: int = MAX_DEPTH) -> Manifest:
    """Hash a model folder (or single file) into an OMS manifest; ``manifest.identity`` is its identity.

    ``shard_size`` switches to the shards method. With blake3, as in the reference, sharding is not
    used (BLAKE3 is parallel inside one file) and the manifest is per file. ``ignore`` takes paths
    relative to the current directory or to the model root; ``.git``, ``.gitattributes``, ``.github``
    and ``.gitignore`` are left out too unless ``ignore_git`` is false, and so is a top-level
    ``model.sig``, so that signing a folder does not change its identity.
    """
    from assay.manifest._walk import relative_ignores

    path = Path(model_path)
    if hash_type not in HASH_TYPES:
        raise UsageError(f"unknown hash type {hash_type!r} (known: {', '.join(HASH_TYPES)})")
    new_hasher(hash_type)
    if shard_size is not None and shard_size <= 0:
        raise UsageError(f"shard size must be a positive number of bytes, got {shard_size}")
    ignores = relative_ignores(path, list(ignore)) if path.is_dir() else []
    if path.is_dir() and SIGNATURE_NAME not in ignores:
        ignores.append(SIGNATURE_NAME)
    if ignore_git:
        ignores += [p for p in GIT_IGNORES if p not in ignores]
    method: Method = "shards" if shard_size is not None and hash_type != "blake3" else "files"
    serialization = Serialization(method=method, hash_type=hash_type, allow_symlinks=allow_symlinks,
                                  shard_size=shard_size if method == "shards" else None,
                                  ignore_paths=tuple(sorted(ignores)))
    return compute_manifest(path, serialization, workers=workers, on_bytes=on_bytes, on_total=on_total,
                            max_files=max_files, max_depth=max_depth)
