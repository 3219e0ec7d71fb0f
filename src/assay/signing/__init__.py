"""OpenSSF Model Signing (OMS) v1.0 bundles: DSSE, in-toto statement, signers and verifiers.

Public surface: ``sign_model``, ``verify_model``, ``sign`` and ``verify`` (paths and options in, as the Python API
``assay.sign``/``assay.verify`` takes them), ``signer_for`` and ``verifier_for`` (the one factory of methods),
``Verification``, ``Problem``, ``BundleError``, ``Signer``, ``Verifier``; imported on first use (they load
``cryptography`` or ``sigstore``): ``keygen``, ``load_private_key``, ``load_public_key``, ``load_certificates``,
``KeySigner``, ``KeyVerifier``, ``CertificateSigner``, ``CertificateVerifier``, ``SigstoreVerifier``.
Other domains import these from ``assay.signing`` only.
"""

from __future__ import annotations

from assay._lazy import lazy_exports
from assay.signing._dsse import PAYLOAD_TYPE, pae
from assay.signing._interface import BundleError, Problem, Signer, Verification, Verifier
from assay.signing.api import sign, verify
from assay.signing.methods import signer_for, verifier_for
from assay.signing.service import sign_model, verify_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.signing._certificate import CertificateSigner, CertificateVerifier
    from assay.signing._key import KeySigner, KeyVerifier
    from assay.signing._keys import keygen, load_certificates, load_private_key, load_public_key
    from assay.signing._sigstore_keyless import SigstoreVerifier

_LAZY = {
    "keygen": "_keys", "load_private_key": "_keys",
    "load_public_key": "_keys", "load_certificates": "_keys",
    "KeySigner": "_key", "KeyVerifier": "_key",
    "CertificateSigner": "_certificate", "CertificateVerifier": "_certificate",
    "SigstoreVerifier": "_sigstore_keyless",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["PAYLOAD_TYPE", "pae", "sign_model", "verify_model", "sign", "verify", "signer_for", "verifier_for", "Verification", "Problem",
           "BundleError", "Signer", "Verifier", "keygen", "load_private_key", "load_public_key", "load_certificates",
           "KeySigner", "KeyVerifier", "CertificateSigner", "CertificateVerifier", "SigstoreVerifier"]
