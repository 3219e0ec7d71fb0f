"""EC keys: load, check the curve, pick the hash OMS pairs with it, fingerprint, generate."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from assay.errors import InputError, UsageError

CURVES: dict[str, type[ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1]] = {
    "p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1}
"""The curves OMS (and Sigstore's key details) support, by the name ``assay keygen`` takes."""
PASSWORD_ENV = "ASSAY_KEY_PASSWORD"
"""Environment variable holding the password of an encrypted private key."""


def hash_for(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    """The digest ECDSA uses with this curve: SHA-256, SHA-384 or SHA-512 for P-256, P-384, P-521."""
    return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]


def check_curve(key: object, source: str) -> None:
    """Refuse anything but an EC key on P-256, P-384 or P-521."""
    if not isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        raise InputError(f"{source}: not an elliptic-curve key (OMS signing uses ECDSA on P-256/384/521)")
    if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
        raise InputError(f"{source}: curve {key.curve.name} is not supported (use P-256, P-384 or P-521)")


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """The key identifier ``model_signing`` 1.1 writes: hex SHA-256 of the PEM SubjectPublicKeyInfo."""
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """A short name for a key in messages: ``sha256:`` and the first 16 hex digits of its DER SPKI hash."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16]


MAX_KEY_FILE_BYTES = 1 << 20
"""A key or certificate chain file larger than this is refused (a PEM chain is a few kilobytes)."""


def _read(path: Path, what: str) -> bytes:
    from assay._files import read_bounded

    return read_bounded(path, MAX_KEY_FILE_BYTES, "max_key_file_bytes", what)


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A PEM private key; encrypted keys take their password from ``ASSAY_KEY_PASSWORD``."""
    data = _read(path, "private key")
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except TypeError:
        raise InputError(f"{path} is encrypted; set {PASSWORD_ENV} to its password") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{path} is not a readable PEM private key ({exc})") from None
    check_curve(key, str(path))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """A PEM public key (SubjectPublicKeyInfo)."""
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{path} is not a readable PEM public key ({exc})") from None
    check_curve(key, str(path))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def load_certificates(path: Path) -> list:
    """Every PEM certificate in a file, in file order."""
    from cryptography import x509

    data = _read(path, "certificate file")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise InputError(f"{path} holds no readable PEM certificate ({exc})") from None
    return certs


def keygen(prefix: str | os.PathLike[str], curve: str = "p256") -> tuple[Path, Path]:
    """Write ``PREFIX.pem`` (private, PKCS#8, mode 0600) and ``PREFIX.pub.pem``; never overwrite.

    The private key is encrypted with ``ASSAY_KEY_PASSWORD`` when that is set.
    """
    if curve not in CURVES:
        raise UsageError(f"unknown curve {curve!r} (known: {', '.join(CURVES)})")
    private_path, public_path = Path(f"{prefix}.pem"), Path(f"{prefix}.pub.pem")
    for p in (private_path, public_path):
        if p.exists():
            raise InputError(f"{p} already exists; refusing to overwrite a key")
    key = ec.generate_private_key(CURVES[curve]())
    password = os.environ.get(PASSWORD_ENV)
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename}: {exc.strerror}") from None
    return private_path, public_path
