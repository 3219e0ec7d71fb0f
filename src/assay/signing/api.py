"""The Python API's ``sign`` and ``verify``: paths and options in, results out, like the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from assay.errors import UsageError
from assay.signing.interface import Verification, Verifier

PathLike = str | os.PathLike[str]


def sign(model: PathLike, *, key: PathLike, cert_chain: PathLike | None = None, signature: PathLike | None = None,
         hash_type: str = "sha256", shard_size: int | None = None, ignore: Iterable[PathLike] = (),
         allow_symlinks: bool = False) -> Path:
    """Sign ``model`` with the EC private key at ``key`` (certificate method when ``cert_chain`` is
    given, leaf first); return the path of the bundle written (default ``MODEL/model.sig``)."""
    from assay.signing.keys import load_certificates, load_private_key
    from assay.signing.service import sign_model

    private_key = load_private_key(Path(key))
    if cert_chain is not None:
        from assay.signing.certificate import CertificateSigner

        signer: object = CertificateSigner(private_key, load_certificates(Path(cert_chain)))
    else:
        from assay.signing.key import KeySigner

        signer = KeySigner(private_key)
    _, written = sign_model(model, signer, signature=signature, hash_type=hash_type,  # type: ignore[arg-type]
                            shard_size=shard_size, ignore=ignore, allow_symlinks=allow_symlinks)
    return written


def verify(model: PathLike, *, public_key: PathLike | None = None, cert_chain: PathLike | None = None,
           sigstore_identity: str | None = None, sigstore_issuer: str | None = None,
           trust_root: PathLike | None = None, signature: PathLike | None = None, ignore: Iterable[PathLike] = (),
           allow_unsigned_files: bool = False) -> Verification:
    """Verify ``model`` against its bundle with exactly one kind of trusted material: a public key, CA
    certificates, or a Sigstore identity and issuer (with an optional trusted root file).

    Returns a Verification (``.ok``, ``.problems``); raises AssayError when it cannot verify at all.
    """
    from assay.signing.service import verify_model

    chosen = [public_key is not None, cert_chain is not None, sigstore_identity is not None]
    if sum(chosen) != 1:
        raise UsageError("give exactly one of public_key, cert_chain or sigstore_identity")
    verifier: Verifier
    if public_key is not None:
        from assay.signing.key import KeyVerifier
        from assay.signing.keys import load_public_key

        verifier = KeyVerifier(load_public_key(Path(public_key)))
    elif cert_chain is not None:
        from assay.signing.certificate import CertificateVerifier
        from assay.signing.keys import load_certificates

        verifier = CertificateVerifier(load_certificates(Path(cert_chain)))
    else:
        from assay.signing.sigstore_keyless import SigstoreVerifier

        verifier = SigstoreVerifier(sigstore_identity or "", sigstore_issuer or "",
                                    Path(trust_root) if trust_root else None)
    return verify_model(model, verifier, signature=signature, ignore=ignore,
                        allow_unsigned_files=allow_unsigned_files)
