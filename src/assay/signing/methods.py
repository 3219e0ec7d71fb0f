"""The one place that turns trusted material into a signing or verification method.

The CLI, the Python API (``assay.sign``/``assay.verify``) and ``release.rollback`` all call these two functions,
so "which method does this material mean" and its validation are written once.
"""

from __future__ import annotations

from pathlib import Path

from assay.errors import UsageError
from assay.signing._interface import Signer, Verifier


def signer_for(key: Path, cert_chain: Path | None = None) -> Signer:
    """The signer for the EC private key at ``key``: the certificate method when ``cert_chain`` (PEM, leaf
    first) is given, else the key method. The key's password, if any, comes from ASSAY_KEY_PASSWORD."""
    from assay.signing._keys import load_certificates, load_private_key

    private_key = load_private_key(Path(key))
    if cert_chain is not None:
        from assay.signing._certificate import CertificateSigner

        return CertificateSigner(private_key, load_certificates(Path(cert_chain)))
    from assay.signing._key import KeySigner

    return KeySigner(private_key)


def verifier_for(*, public_key: Path | None = None, cert_chain: Path | None = None,
                 sigstore_identity: str | None = None, sigstore_issuer: str | None = None,
                 trust_root: Path | None = None, sigstore: bool | None = None,
                 labels: tuple[str, str, str] = ("public_key", "cert_chain", "sigstore_identity")) -> Verifier:
    """The verifier for exactly one kind of trusted material: an EC public key, trusted CA certificates, or a
    Sigstore identity and issuer (optional trusted root file). ``sigstore`` says whether Sigstore was chosen;
    left None, giving ``sigstore_identity`` chooses it.

    Raises UsageError when none or several kinds are given, or when Sigstore-only options come without
    Sigstore; ``labels`` are the caller's names for the three kinds (the CLI passes its flags).
    """
    use_sigstore = sigstore_identity is not None if sigstore is None else sigstore
    chosen = [label for label, on in zip(labels, (public_key is not None, cert_chain is not None, use_sigstore),
                                         strict=True) if on]
    if len(chosen) != 1:
        raise UsageError(f"give exactly one of {labels[0]}, {labels[1]} or {labels[2]}"
                         + (f" (got {', '.join(chosen)})" if chosen else ""))
    if not use_sigstore and (sigstore_identity or sigstore_issuer or trust_root):
        raise UsageError(f"the identity, the issuer and the trusted root go with {labels[2]}")
    if public_key is not None:
        from assay.signing._key import KeyVerifier
        from assay.signing._keys import load_public_key

        return KeyVerifier(load_public_key(Path(public_key)))
    if cert_chain is not None:
        from assay.signing._certificate import CertificateVerifier
        from assay.signing._keys import load_certificates

        return CertificateVerifier(load_certificates(Path(cert_chain)))
    from assay.signing._sigstore_keyless import SigstoreVerifier

    if trust_root is not None and not Path(trust_root).is_file():
        raise UsageError(f"trusted root {trust_root} does not exist")
    return SigstoreVerifier(sigstore_identity or "", sigstore_issuer or "", Path(trust_root) if trust_root else None)
