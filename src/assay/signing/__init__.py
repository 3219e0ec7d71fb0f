"""OpenSSF Model Signing (OMS) v1.0 bundles: DSSE, in-toto statement, signers and verifiers.

Public surface: ``sign_model``, ``verify_model``, ``KeySigner``, ``CertificateSigner``,
``KeyVerifier``, ``CertificateVerifier``, ``SigstoreVerifier`` (imported lazily), ``Verification``,
``Problem``, ``BundleError``, ``keygen``.
"""

from __future__ import annotations

from assay.signing.interface import BundleError, Problem, Verification
from assay.signing.service import sign_model, verify_model

__all__ = ["sign_model", "verify_model", "Verification", "Problem", "BundleError"]
