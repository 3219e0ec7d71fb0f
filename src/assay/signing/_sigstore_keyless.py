"""The Sigstore keyless method, verified offline with the ``sigstore`` library.

The library checks the Fulcio certificate chain against the trusted root, the signed identity and
issuer, the Rekor transparency-log entry (inclusion proof or signed entry timestamp, checked against
the log keys in the trusted root) and any RFC 3161 timestamps. No network is used: the trusted root
comes from a file (``--trust-root``) or, by default, the public-good root that ships in the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay.errors import InputError
from assay.signing._interface import BundleError, SignatureInvalid, Verifier


def bundled_public_good_root() -> Path:
    """The Sigstore public-good trusted root shipped inside the sigstore package (a dated snapshot)."""
    import sigstore

    root = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"
    if not root.is_file():
        raise InputError("this sigstore release ships no trusted root; pass --trust-root ROOT.json")
    return root


class SigstoreVerifier(Verifier):
    """Verifies keyless bundles for one expected identity (certificate SAN) and OIDC issuer."""

    method = "sigstore"

    def __init__(self, identity: str, issuer: str, trust_root: Path | None = None) -> None:
        if not identity or not issuer:
            raise InputError("--sigstore needs --identity and --issuer")
        self.identity, self.issuer = identity, issuer
        self.trust_root = trust_root or bundled_public_good_root()

    def verify(self, bundle_json: dict[str, Any], payload: bytes, signature: bytes) -> tuple[str, list[str]]:
        """Hand the bundle to sigstore-python; return the verified identity."""
        material = bundle_json["verificationMaterial"]
        if "certificate" not in material and "x509CertificateChain" not in material:
            raise SignatureInvalid("wrong-method", "the bundle was signed with a bare key (use --public-key)")
        if "tlogEntries" not in material or not material["tlogEntries"]:
            raise SignatureInvalid("wrong-method", "the bundle has no transparency-log entry, so it is not a "
                                   "Sigstore keyless signature (for a private CA use --cert-chain)")
        from sigstore.errors import Error as SigstoreError
        from sigstore.errors import MetadataError, VerificationError
        from sigstore.models import Bundle, InvalidBundle, TrustedRoot
        from sigstore.verify import Verifier as LibVerifier
        from sigstore.verify import policy

        try:
            root = TrustedRoot.from_file(str(self.trust_root))
        except (OSError, ValueError, SigstoreError) as exc:
            raise InputError(f"cannot read trusted root {self.trust_root}: {_one_line(exc)}") from None
        try:
            bundle = Bundle.from_json(json.dumps(bundle_json))
        except (InvalidBundle, ValueError) as exc:
            raise BundleError("$", f"sigstore rejects the bundle: {_one_line(exc)}") from None
        try:
            verifier = LibVerifier(trusted_root=root)
        except SigstoreError as exc:
            raise InputError(f"trusted root {self.trust_root} is unusable: {_one_line(exc)}") from None
        try:
            payload_type, signed = verifier.verify_dsse(
                bundle, policy.Identity(identity=self.identity, issuer=self.issuer))
        except VerificationError as exc:
            message = str(exc)
            lowered = message.lower()
            kind = "wrong-identity" if any(w in lowered for w in ("identity", "issuer", "san")) else "bad-signature"
            raise SignatureInvalid(kind, f"Sigstore verification failed: {message}") from None
        except MetadataError as exc:
            raise InputError(f"trusted root {self.trust_root} is unusable: {_one_line(exc)}") from None
        except (SigstoreError, ValueError) as exc:
            raise SignatureInvalid("bad-signature", f"Sigstore verification failed: {_one_line(exc)}") from None
        if signed != payload:
            raise SignatureInvalid("bad-signature", "sigstore verified a different payload than the envelope's")
        return f"sigstore {self.identity} (issuer {self.issuer})", []


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (pydantic and sigstore errors span several)."""
    return " ".join(str(exc).split())[:400]
