"""The Python API's ``sign`` and ``verify``: paths and options in, results out, like the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from assay.signing._interface import Verification

PathLike = str | os.PathLike[str]


def sign(model: PathLike, *, key: PathLike, cert_chain: PathLike | None = None, signature: PathLike | None = None,
         hash_type: str = "sha256", shard_size: int | None = None, ignore: Iterable[PathLike] = (),
         allow_symlinks: bool = False) -> Path:
    """Sign ``model`` with the EC private key at ``key`` (certificate method when ``cert_chain`` is
    given, leaf first); return the path of the bundle written (default ``MODEL/model.sig``)."""
    from assay.signing.methods import signer_for
    from assay.signing.service import sign_model

    signer = signer_for(Path(key), Path(cert_chain) if cert_chain is not None else None)
    _, written = sign_model(model, signer, signature=signature, hash_type=hash_type,
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
    from assay.signing.methods import verifier_for
    from assay.signing.service import verify_model

    verifier = verifier_for(public_key=_path(public_key), cert_chain=_path(cert_chain),
                            sigstore_identity=sigstore_identity, sigstore_issuer=sigstore_issuer,
                            trust_root=_path(trust_root))
    return verify_model(model, verifier, signature=signature, ignore=ignore,
                        allow_unsigned_files=allow_unsigned_files)


def _path(value: PathLike | None) -> Path | None:
    return None if value is None else Path(value)
