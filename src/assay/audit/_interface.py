"""Value types and errors of the audit log core: proofs and note signatures (``Checkpoint`` lives beside its parser).

Hashes are raw ``bytes`` in memory and lowercase hex in JSON, so a proof can be printed, exported and
read back by another tool. ``from_json`` is strict: anything that is not exactly the documented shape
raises :class:`AuditInputError` with a one-line message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from assay.errors import AssayError, InputError

HASH_SIZE = 32
"""Bytes in every tree hash (SHA-256)."""
MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size accepted anywhere (RFC 9162 sizes are unsigned 64-bit integers)."""
MAX_PROOF_HASHES = 192
"""Hashes one proof may carry when read from JSON; a 64-bit tree needs at most 2 x 64 (``max_hashes`` argument)."""


class AuditError(AssayError):
    """Root of the audit log core's errors."""


class AuditInputError(AuditError, InputError):
    """A proof, checkpoint or key given to the audit core is malformed (bad JSON shape, bad hash, bad size)."""


class ProofError(AuditError):
    """A Merkle inclusion or consistency proof does not verify: the log's claim is not proven."""

    exit_code = 1


class CheckpointError(AuditError):
    """A signed note or checkpoint is malformed, too large, or names no usable key."""


class SignatureError(CheckpointError):
    """A note carries no valid signature from any trusted key, or a trusted key's signature is wrong."""

    exit_code = 1


def require_field(data: Any, key: str, kind: type, what: str) -> Any:
    """Fetch ``data[key]`` and check its type; bool is refused where an int is wanted."""
    if not isinstance(data, dict):
        raise AuditInputError(f"{what}: expected a JSON object")
    if key not in data:
        raise AuditInputError(f"{what}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise AuditInputError(f"{what}: field {key!r} must be {kind.__name__}")
    return value


def _size(data: Any, key: str, what: str) -> int:
    value = require_field(data, key, int, what)
    if not 0 <= value <= MAX_TREE_SIZE:
        raise AuditInputError(f"{what}: field {key!r} is out of range")
    return value


def hash_from_hex(text: Any, what: str) -> bytes:
    """Decode one hex tree hash, insisting on exactly :data:`HASH_SIZE` bytes."""
    if not isinstance(text, str) or len(text) != 2 * HASH_SIZE:
        raise AuditInputError(f"{what}: a hash must be {2 * HASH_SIZE} hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise AuditInputError(f"{what}: a hash must be {2 * HASH_SIZE} hex digits") from None


def _hashes(data: Any, what: str, max_hashes: int) -> tuple[bytes, ...]:
    items = require_field(data, "hashes", list, what)
    if len(items) > max_hashes:
        raise AuditInputError(f"{what}: more than {max_hashes} hashes")
    return tuple(hash_from_hex(item, what) for item in items)


@dataclass(frozen=True)
class InclusionProof:
    """Proof that the leaf at ``index`` is in the tree of ``size`` leaves (RFC 9162 section 2.1.3)."""

    index: int
    size: int
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """The proof as JSON (schema ``assay.inclusion-proof/1``), hashes in hex."""
        return {"schema": "assay.inclusion-proof/1", "index": self.index, "size": self.size,
                "hashes": [h.hex() for h in self.hashes]}

    @classmethod
    def from_json(cls, data: Any, max_hashes: int = MAX_PROOF_HASHES) -> InclusionProof:
        """Read what :meth:`to_json` wrote; raises :class:`AuditInputError` for anything else."""
        what = "inclusion proof"
        return cls(_size(data, "index", what), _size(data, "size", what), _hashes(data, what, max_hashes))


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2`` (RFC 9162 section 2.1.4)."""

    size1: int
    size2: int
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """The proof as JSON (schema ``assay.consistency-proof/1``), hashes in hex."""
        return {"schema": "assay.consistency-proof/1", "size1": self.size1, "size2": self.size2,
                "hashes": [h.hex() for h in self.hashes]}

    @classmethod
    def from_json(cls, data: Any, max_hashes: int = MAX_PROOF_HASHES) -> ConsistencyProof:
        """Read what :meth:`to_json` wrote; raises :class:`AuditInputError` for anything else."""
        what = "consistency proof"
        return cls(_size(data, "size1", what), _size(data, "size2", what), _hashes(data, what, max_hashes))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a signed note: the key name, its 4-byte key hash and the raw signature."""

    name: str
    key_hash: int
    signature: bytes

    def line(self) -> str:
        """The signature line as the note carries it, with its trailing newline."""
        blob = self.key_hash.to_bytes(4, "big") + self.signature
        return f"\u2014 {self.name} {base64.b64encode(blob).decode('ascii')}\n"

    def to_json(self) -> dict[str, Any]:
        """The signature as JSON: name, key hash (8 hex digits) and signature (hex)."""
        return {"name": self.name, "key_hash": f"{self.key_hash:08x}", "signature": self.signature.hex()}
