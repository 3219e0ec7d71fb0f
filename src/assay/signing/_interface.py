"""Signers, verifiers and what a verification found, as plain frozen data.

A signing method (EC key, X.509 certificate chain, Sigstore keyless) is a ``Signer`` that signs the
DSSE pre-authentication encoding and says what verification material goes into the bundle, and a
``Verifier`` that checks a parsed bundle's signature and returns the signed payload.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from assay.errors import AssayError
from assay.manifest import Manifest


class BundleError(AssayError):
    """The signature file is not a well-formed bundle; ``path`` is the JSON path of what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"malformed signature bundle at {path}: {message}")
        self.path = path


class SignatureInvalid(Exception):
    """The bundle is well formed but its signature does not hold (wrong key, bad signature, untrusted chain)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Problem:
    """One reason a model failed verification.

    ``kind``: ``modified`` (digest differs), ``extra`` (file not in the signature), ``missing``
    (signed file absent), ``wrong-key``, ``bad-signature``, ``untrusted-certificate``,
    ``wrong-identity``, ``wrong-predicate``, ``inconsistent-manifest``.
    """

    kind: str
    message: str
    resource: str | None = None
    expected: str | None = None
    actual: str | None = None

    def to_json(self) -> dict[str, Any]:
        """This problem as a JSON object (absent fields left out)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Verification:
    """What ``verify`` established: ``ok`` only if the signature holds and every file matches."""

    model: str
    signature: str
    method: str
    signer: str
    problems: tuple[Problem, ...] = ()
    manifest: Manifest | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 verified, 1 verified false."""
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        """The result as assay's JSON output (schema ``assay.verify/1.0``)."""
        return {
            "schema": "assay.verify/1.0",
            "verified": self.ok,
            "model": self.model,
            "signature": self.signature,
            "method": self.method,
            "signer": self.signer,
            "identity": self.manifest.identity if self.manifest else None,
            "files": self.manifest.total_files if self.manifest else None,
            "problems": [p.to_json() for p in self.problems],
            "warnings": list(self.warnings),
        }


class Signer(abc.ABC):
    """Signs DSSE pre-authentication encodings and describes itself to verifiers."""

    @abc.abstractmethod
    def sign(self, message: bytes) -> bytes:
        """The raw signature (DER ECDSA) over ``message``."""

    @abc.abstractmethod
    def verification_material(self) -> dict[str, Any]:
        """The bundle's ``verificationMaterial`` object."""


class Verifier(abc.ABC):
    """Checks a bundle's signature with trusted material the user supplied."""

    method: str = ""

    @abc.abstractmethod
    def verify(self, bundle_json: dict[str, Any], payload: bytes, signature: bytes) -> tuple[str, list[str]]:
        """Check ``signature`` over ``payload``; return (who signed, warnings) or raise SignatureInvalid."""
