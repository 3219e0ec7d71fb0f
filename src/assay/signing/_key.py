"""The elliptic-key method: a bare EC key pair, identified in the bundle by a hint (its PEM hash)."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from assay.signing._bundle import b64decode
from assay.signing._dsse import pae, pae_v02
from assay.signing._interface import BundleError, SignatureInvalid, Signer, Verifier
from assay.signing._keys import fingerprint, hash_for, key_hint


class KeySigner(Signer):
    """Signs with an EC private key; the bundle carries the public key's hint, not the key."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self.private_key = private_key

    def sign(self, message: bytes) -> bytes:
        """ECDSA (DER) over ``message`` with the curve's hash."""
        return self.private_key.sign(message, ec.ECDSA(hash_for(self.private_key.public_key())))

    def verification_material(self) -> dict[str, Any]:
        """``publicKey.hint`` as ``model_signing`` 1.1 writes it, and no transparency-log entries."""
        return {"publicKey": {"hint": key_hint(self.private_key.public_key())}, "tlogEntries": []}


def check_signature(key: ec.EllipticCurvePublicKey, payload: bytes, signature: bytes) -> list[str]:
    """Verify a DSSE signature over ``payload``; also accept model_signing 0.2's faulty encoding.

    Returns warnings; raises SignatureInvalid("bad-signature") when neither encoding verifies.
    """
    algorithm = ec.ECDSA(hash_for(key))
    try:
        key.verify(signature, pae(payload), algorithm)
        return []
    except InvalidSignature:
        pass
    for legacy in (algorithm, ec.ECDSA(hash_for_v02())):
        try:
            key.verify(signature, pae_v02(payload), legacy)
            return ["signed with model_signing 0.2's DSSE encoding (accepted for compatibility)"]
        except InvalidSignature:
            continue
    raise SignatureInvalid("bad-signature", "the signature does not verify over the signed statement with "
                           f"key {fingerprint(key)}: the bundle was altered or signed by another key")


def hash_for_v02():  # noqa: ANN201 - a hashes.HashAlgorithm
    """model_signing 0.2's certificate method always hashed with SHA-256."""
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


class KeyVerifier(Verifier):
    """Verifies bundles made with the elliptic-key method against a public key the user trusts."""

    method = "key"

    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self.public_key = public_key

    def verify(self, bundle_json: dict[str, Any], payload: bytes, signature: bytes) -> tuple[str, list[str]]:
        """Check the bundle names this key (when it says) and that the signature holds."""
        material = bundle_json["verificationMaterial"]
        if "publicKey" not in material:
            kind = "a certificate chain (use --cert-chain)" if "x509CertificateChain" in material \
                else "Sigstore keyless (use --sigstore)"
            raise SignatureInvalid("wrong-method", f"the bundle was signed with {kind}, not with a bare key")
        identifier = material["publicKey"]
        if not isinstance(identifier, dict):
            raise BundleError("$.verificationMaterial.publicKey", "expected an object")
        warnings = []
        hint = identifier.get("hint")
        mine = key_hint(self.public_key)
        if hint:
            if hint != mine:
                raise SignatureInvalid("wrong-key", f"the bundle was signed by the key with hint {hint}, "
                                       f"not by the public key given ({mine})")
        elif identifier.get("rawBytes"):
            raw = b64decode(identifier["rawBytes"], "$.verificationMaterial.publicKey.rawBytes")
            if _public_numbers(raw) not in (None, self.public_key.public_numbers()):
                raise SignatureInvalid("wrong-key", "the bundle carries a different public key than the one given")
            warnings.append("old bundle layout (publicKey.rawBytes, model_signing before 1.1); re-sign to update")
        warnings += check_signature(self.public_key, payload, signature)
        return f"key {fingerprint(self.public_key)}", warnings


def _public_numbers(raw: bytes):  # noqa: ANN202
    for loader in (serialization.load_pem_public_key, serialization.load_der_public_key):
        try:
            key = loader(raw)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return key.public_numbers() if isinstance(key, ec.EllipticCurvePublicKey) else None
    return None
