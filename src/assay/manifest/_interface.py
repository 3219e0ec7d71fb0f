"""What a model is, byte for byte: the manifest of an OpenSSF Model Signing (OMS) v1.0 predicate.

A manifest lists resources (whole files, or byte ranges of files called shards), each with a digest,
in the order the reference implementation (``model_signing``) lists them, plus the serialization
parameters needed to compute it again. Its identity is the OMS root digest: SHA-256 over the raw
resource digests concatenated in that order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

HASH_TYPES: tuple[str, ...] = ("sha256", "blake2b", "blake3")
"""Digest algorithms the OMS v1.0 schema allows for resources."""
DEFAULT_SHARD_SIZE = 1_000_000_000
"""The reference implementation's shard size (1 GB)."""
GIT_IGNORES: tuple[str, ...] = (".git", ".gitattributes", ".github", ".gitignore")
"""Paths the reference signer leaves out of every manifest unless told otherwise."""
SIGNATURE_NAME = "model.sig"
"""The default signature file name; ``hash`` and ``sign`` leave a top-level one out of the manifest."""
MAX_FILES = 1_000_000
"""Files one manifest may list; a folder with more is refused (``max_files`` argument)."""
MAX_DEPTH = 64
"""Directory nesting followed below the model root (``max_depth`` argument)."""

Method = Literal["files", "shards"]


@dataclass(frozen=True)
class Resource:
    """One entry of the manifest: a file (``name`` is its POSIX path) or a shard (``path:start:end``)."""

    name: str
    algorithm: str
    digest: bytes

    @property
    def hex(self) -> str:
        """The digest as lowercase hex, as OMS writes it."""
        return self.digest.hex()


@dataclass(frozen=True)
class Serialization:
    """How the manifest was computed; recorded in the signature so a verifier can compute it again."""

    method: Method = "files"
    hash_type: str = "sha256"
    allow_symlinks: bool = False
    shard_size: int | None = None
    ignore_paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``predicate.serialization`` object of OMS v1.0."""
        out: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.method == "shards":
            out["shard_size"] = self.shard_size
        out["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            out["ignore_paths"] = list(self.ignore_paths)
        return out


@dataclass(frozen=True)
class Manifest:
    """A model's resources with their digests, in canonical order, and how they were computed."""

    model_name: str
    serialization: Serialization
    resources: tuple[Resource, ...] = field(default=())

    @cached_property
    def root_digest(self) -> bytes:
        """The OMS subject digest: SHA-256 over the raw resource digests, concatenated in order."""
        h = hashlib.sha256()
        for resource in self.resources:
            h.update(resource.digest)
        return h.digest()

    @property
    def identity(self) -> str:
        """The model's identity as assay records it: ``sha256:<root digest hex>``."""
        return "sha256:" + self.root_digest.hex()

    @property
    def total_files(self) -> int:
        """Number of distinct files the resources cover."""
        if self.serialization.method == "files":
            return len(self.resources)
        return len({shard_path(r.name) for r in self.resources})

    def by_name(self) -> dict[str, Resource]:
        """Resources keyed by name."""
        return {r.name: r for r in self.resources}

    def to_json(self) -> dict[str, Any]:
        """The manifest as assay's JSON output (schema ``assay.manifest/1.0``)."""
        return {
            "schema": "assay.manifest/1.0",
            "model": self.model_name,
            "identity": self.identity,
            "serialization": self.serialization.to_json(),
            "resources": [{"name": r.name, "algorithm": r.algorithm, "digest": r.hex} for r in self.resources],
        }


def resource_algorithm(serialization: Serialization) -> str:
    """The ``algorithm`` a resource records: the hash type, or ``<hash>-sharded-<size>`` for shards.

    The sharded spelling is what ``model_signing`` writes and requires when it verifies; the OMS v1.0
    schema's enum lists only the bare names. assay writes the reference's spelling so that its shard
    signatures verify there, and accepts both when it verifies.
    """
    if serialization.method == "shards":
        return f"{serialization.hash_type}-sharded-{serialization.shard_size}"
    return serialization.hash_type


def same_algorithm(a: str, b: str) -> bool:
    """True when two resource algorithm names mean the same digest (``sha256`` = ``sha256-sharded-N``)."""
    return a.split("-sharded-")[0] == b.split("-sharded-")[0]


def shard_path(name: str) -> str:
    """The file path of a shard resource name ``path:start:end`` (paths may contain ':')."""
    return name.rsplit(":", 2)[0]


def sort_key(name: str, method: str) -> tuple:
    """The order ``model_signing`` lists resources in: by path components, then shard start and end.

    This is not plain string order ("a/b" sorts before "a-c"). Matching it makes assay's root digest,
    which is the registry's identity, the same as the reference's for the same folder.
    """
    if method == "shards":
        path, start, end = name.rsplit(":", 2)
        return (tuple(path.split("/")), int(start), int(end))
    return (tuple(name.split("/")),)
