"""List the files of a model folder the way OMS defines them: POSIX relative names, ignore rules,
symlinks refused unless allowed, special files and names that are not UTF-8 rejected."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from assay.errors import InputError
from assay.manifest._interface import MAX_DEPTH, MAX_FILES


@dataclass(frozen=True)
class ModelFile:
    """One file to hash: its manifest name, where it is on disk and its size."""

    name: str
    path: str
    size: int


def is_ignored(name: str, ignore_paths: tuple[str, ...]) -> bool:
    """True when ``name`` is one of ``ignore_paths`` or lies under one of them (they are folders too)."""
    return any(name == p or name.startswith(p + "/") for p in ignore_paths)


def relative_ignores(model_path: Path, paths: list[str | os.PathLike[str]], *, base: Path | None = None) -> list[str]:
    """Turn ignore paths given by a user into POSIX paths relative to the model root.

    A relative path is tried against ``base`` (the current directory for the CLI) first and then
    against the model root, so both ``--ignore model/ignore-me`` and ``--ignore ignore-me`` work;
    paths that lie outside the model are dropped, as the reference does.
    """
    root = model_path.resolve()
    out: list[str] = []
    for raw in paths:
        p = Path(raw)
        candidates = [p] if p.is_absolute() else [(base or Path.cwd()) / p, root / p]
        for candidate in candidates:
            try:
                rel = Path(os.path.normpath(candidate.absolute())).relative_to(root)
            except ValueError:
                try:
                    rel = candidate.resolve().relative_to(root)
                except ValueError:
                    continue
            name = rel.as_posix()
            if name != "." and name not in out:
                out.append(name)
            break
    return out


def list_files(model_path: Path, ignore_paths: tuple[str, ...], *, allow_symlinks: bool = False,
               max_files: int = MAX_FILES, max_depth: int = MAX_DEPTH) -> list[ModelFile]:
    """Every regular file of the model that is not ignored. A model may be a single file (named ``.``)."""
    try:
        st = os.lstat(model_path)
    except FileNotFoundError:
        raise InputError(f"{model_path}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{model_path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        if not allow_symlinks:
            raise InputError(f"{model_path} is a symbolic link; pass --allow-symlinks to follow it")
        st = _follow(model_path)
    if stat.S_ISREG(st.st_mode):
        return [ModelFile(".", str(model_path), st.st_size)]
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{model_path} is neither a file nor a folder")
    files: list[ModelFile] = []
    seen_dirs = {(st.st_dev, st.st_ino)}
    _walk(str(model_path), "", ignore_paths, allow_symlinks, files, seen_dirs, 0, max_files, max_depth)
    return files


def _follow(path: str | Path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError:
        raise InputError(f"{path} is a broken symbolic link") from None


def _walk(folder: str, prefix: str, ignore_paths: tuple[str, ...], allow_symlinks: bool, files: list[ModelFile],
          seen_dirs: set[tuple[int, int]], depth: int, max_files: int, max_depth: int) -> None:
    if depth > max_depth:
        raise InputError(f"{folder}: folders nested deeper than {max_depth} (max_depth)")
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(f"{folder}: {exc.strerror}") from None
    for entry in entries:
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(entry.path).decode("utf-8", "backslashreplace")
            raise InputError(f"{shown}: file name is not valid UTF-8; OMS names must be") from None
        name = prefix + entry.name
        if is_ignored(name, ignore_paths):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            raise InputError(f"{entry.path}: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            if not allow_symlinks:
                raise InputError(f"{entry.path} is a symbolic link; pass --allow-symlinks to follow it")
            st = _follow(entry.path)
        if stat.S_ISREG(st.st_mode):
            if len(files) >= max_files:
                raise InputError(f"the model has more than {max_files} files (max_files)")
            files.append(ModelFile(name, entry.path, st.st_size))
        elif stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                raise InputError(f"{entry.path}: symbolic link loop")
            seen_dirs.add(key)
            _walk(entry.path, name + "/", ignore_paths, allow_symlinks, files, seen_dirs, depth + 1,
                  max_files, max_depth)
            seen_dirs.discard(key)
        else:
            raise InputError(f"{entry.path} is a special file (device, pipe or socket); models cannot contain one")
