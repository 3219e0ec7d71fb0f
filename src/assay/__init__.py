"""assay: inspect, hash, sign, register and gate open-source AI models before anyone loads them.

The public Python API is small:

- ``assay.scan(path) -> ScanReport``: is loading these files safe?
- ``assay.hash_model(path) -> Manifest``: the OMS manifest; ``.identity`` is the model's identity.
- ``assay.sign(path, key=...) -> Path`` and ``assay.verify(path, public_key=...) -> Verification``:
  OpenSSF Model Signing v1.0 bundles (key, certificate and Sigstore methods).
"""

from __future__ import annotations

from assay._version import __version__

# The subpackage assay.scan is imported here once (it needs only the standard library) and its
# function then takes the attribute's place, so `assay.scan(...)` is the scanner entry point.
from assay.scan import FileReport, Finding, ScanReport, Severity, scan  # noqa: E402


def hash_model(path, **options):  # noqa: ANN001, ANN003, ANN201 - documented in assay.manifest.hash_model
    """Hash a model folder (or file) into its OMS manifest; see ``assay.manifest.hash_model``."""
    from assay.manifest import hash_model as _hash_model

    return _hash_model(path, **options)


def sign(model, **options):  # noqa: ANN001, ANN003, ANN201 - documented in assay.signing.sign
    """Sign a model into an OMS bundle; see ``assay.signing.sign``."""
    from assay.signing import sign as _sign

    return _sign(model, **options)


def verify(model, **options):  # noqa: ANN001, ANN003, ANN201 - documented in assay.signing.verify
    """Verify a model against its OMS bundle; see ``assay.signing.verify``."""
    from assay.signing import verify as _verify

    return _verify(model, **options)


__all__ = ["__version__", "scan", "ScanReport", "FileReport", "Finding", "Severity", "hash_model", "sign", "verify"]
