"""The certificate method: an EC key with an X.509 chain (leaf first) checked against trusted CAs."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from assay.errors import InputError
from assay.signing._bundle import b64decode, b64encode
from assay.signing._interface import BundleError, SignatureInvalid, Verifier
from assay.signing._key import KeySigner, check_signature
from assay.signing._keys import check_curve, fingerprint


class CertificateSigner(KeySigner):
    """Signs with an EC key and ships its certificate chain (leaf first) in the bundle."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, chain: list[x509.Certificate]) -> None:
        super().__init__(private_key)
        if not chain:
            raise InputError("the certificate chain file holds no certificate")
        try:
            leaf_key = chain[0].public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise InputError("the first certificate of the chain has a key type assay cannot read") from None
        if leaf_key != private_key.public_key():
            raise InputError("the first certificate of the chain is not the private key's (the leaf goes first)")
        self.chain = chain

    def verification_material(self) -> dict[str, Any]:
        """``x509CertificateChain`` with DER certificates, leaf first."""
        certs = [{"rawBytes": b64encode(c.public_bytes(serialization.Encoding.DER))} for c in self.chain]
        return {"x509CertificateChain": {"certificates": certs}, "tlogEntries": []}


class CertificateVerifier(Verifier):
    """Verifies certificate-method bundles: chain to a trusted CA, signing usage, then the signature.

    The chain is checked at the leaf's notBefore time, as the reference does: there is no trusted
    timestamp in these bundles, and a model signed while the certificate was valid stays verifiable.
    """

    method = "certificate"

    def __init__(self, anchors: list[x509.Certificate]) -> None:
        if not anchors:
            raise InputError("no trusted CA certificate given")
        self.anchors = anchors

    def verify(self, bundle_json: dict[str, Any], payload: bytes, signature: bytes) -> tuple[str, list[str]]:
        """Check the chain, the leaf's usage and the signature; return the leaf's subject."""
        material = bundle_json["verificationMaterial"]
        if "x509CertificateChain" in material:
            where = "$.verificationMaterial.x509CertificateChain.certificates"
            certs = material["x509CertificateChain"].get("certificates") \
                if isinstance(material["x509CertificateChain"], dict) else None
            if not isinstance(certs, list) or not certs:
                raise BundleError(where, "expected a non-empty array")
        else:
            kind = "a bare key (use --public-key)" if "publicKey" in material else "Sigstore keyless (use --sigstore)"
            raise SignatureInvalid("wrong-method", f"the bundle was signed with {kind}, not with a certificate chain")
        chain = []
        for i, entry in enumerate(certs):
            raw = b64decode(entry.get("rawBytes") if isinstance(entry, dict) else None, f"{where}[{i}].rawBytes")
            try:
                chain.append(x509.load_der_x509_certificate(raw))
            except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
                raise BundleError(f"{where}[{i}].rawBytes", f"not a DER certificate ({exc})") from None
        leaf = chain[0]
        self._check_chain(leaf, chain[1:])
        try:
            key = leaf.public_key()
            check_curve(key, "the signing certificate")
        except (InputError, ValueError, UnsupportedAlgorithm) as exc:
            raise SignatureInvalid("untrusted-certificate", str(exc)) from None
        assert isinstance(key, ec.EllipticCurvePublicKey)
        warnings = check_signature(key, payload, signature)
        return f"certificate {leaf.subject.rfc4514_string() or '(empty subject)'} (key {fingerprint(key)})", warnings

    def _check_chain(self, leaf: x509.Certificate, intermediates: list[x509.Certificate]) -> None:
        from cryptography.x509.verification import (
            Criticality,
            ExtensionPolicy,
            PolicyBuilder,
            Store,
            VerificationError,
        )

        def must_be_ca(_policy: object, _cert: object, value: x509.BasicConstraints | None) -> None:
            if value is None or not value.ca:
                raise ValueError("an issuing certificate is not a CA")

        # Private PKIs rarely follow the Web PKI profile cryptography enforces by default, so the
        # extension rules are relaxed to what code signing needs: issuers must be CAs, and the leaf
        # must allow digital signatures or code signing (checked below).
        ca_policy = ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC,
                                                                 must_be_ca)
        builder = (PolicyBuilder().store(Store(self.anchors)).time(leaf.not_valid_before_utc)
                   .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all()))
        try:
            builder.build_client_verifier().verify(leaf, intermediates)
        except VerificationError as exc:
            raise SignatureInvalid("untrusted-certificate", f"the certificate chain does not lead to a trusted CA: "
                                   f"{str(exc).split(' (encountered')[0]}") from None
        if not _can_sign(leaf):
            raise SignatureInvalid("untrusted-certificate", "the signing certificate does not allow digital "
                                   "signatures (key usage) or code signing (extended key usage)")


def _can_sign(cert: x509.Certificate) -> bool:
    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        return ExtendedKeyUsageOID.CODE_SIGNING in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
