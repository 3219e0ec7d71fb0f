"""Sigstore bundle v0.3 JSON carrying a DSSE envelope: strict parsing with JSON paths, and writing.

Parsed by hand rather than with sigstore's protobuf models: a malformed bundle must be reported with
the JSON path of the fault, and bundles made by ``model_signing``'s key and certificate methods are
not valid input for sigstore-python (it only accepts keyless verification material).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from assay.signing._dsse import PAYLOAD_TYPE
from assay.signing._interface import BundleError

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
"""The bundle media type written; any ``application/vnd.dev.sigstore.bundle*`` is read."""
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
"""Largest signature file read (``max_bundle_bytes``); real ones are a few KiB plus the manifest."""
MATERIAL_KINDS = ("publicKey", "x509CertificateChain", "certificate")


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle: the envelope's payload and signatures, and the verification material as JSON."""

    media_type: str
    material: dict[str, Any]
    payload: bytes
    payload_type: str
    signatures: tuple[bytes, ...]
    document: dict[str, Any]

    @property
    def material_kind(self) -> str:
        """Which verification material the bundle carries: publicKey, x509CertificateChain or certificate."""
        return next(k for k in MATERIAL_KINDS if k in self.material)


def b64decode(value: Any, path: str) -> bytes:
    """Decode a protobuf-JSON bytes field (standard or URL-safe base64, padding optional)."""
    if not isinstance(value, str):
        raise BundleError(path, f"expected a base64 string, found {_kind(value)}")
    text = value.strip()
    alphabet = "-_" if ("-" in text or "_" in text) else "+/"
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(path, "not valid base64") from None


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as protobuf JSON writes bytes."""
    return base64.b64encode(data).decode("ascii")


def parse_bundle(data: bytes, *, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle:
    """Parse a signature file; raise BundleError naming the JSON path of the first fault."""
    if len(data) > max_bytes:
        raise BundleError("$", f"file is larger than {max_bytes} bytes (max_bundle_bytes)")
    try:
        doc = json.loads(data)
    except RecursionError:
        raise BundleError("$", "JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError("$", f"not JSON ({exc})") from None
    obj = _object(doc, "$")
    media_type = _string(obj, "mediaType", "$")
    if not media_type.startswith("application/vnd.dev.sigstore.bundle"):
        raise BundleError("$.mediaType", f"not a Sigstore bundle media type: {media_type!r}")
    material = _object(obj.get("verificationMaterial"), "$.verificationMaterial")
    if not any(k in material for k in MATERIAL_KINDS):
        raise BundleError("$.verificationMaterial", "no publicKey, x509CertificateChain or certificate")
    if "certificate" in material and not material.get("tlogEntries"):
        raise BundleError("$.verificationMaterial.tlogEntries", "a Sigstore keyless bundle needs at least one "
                          "transparency-log entry")
    if "dsseEnvelope" not in obj:
        hint = " (it holds a messageSignature: not a model signature)" if "messageSignature" in obj else ""
        raise BundleError("$.dsseEnvelope", "missing" + hint)
    envelope = _object(obj["dsseEnvelope"], "$.dsseEnvelope")
    payload = b64decode(envelope.get("payload"), "$.dsseEnvelope.payload")
    if not payload:
        raise BundleError("$.dsseEnvelope.payload", "empty")
    payload_type = _string(envelope, "payloadType", "$.dsseEnvelope")
    sigs = envelope.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise BundleError("$.dsseEnvelope.signatures", "expected a non-empty array")
    signatures = []
    for i, sig in enumerate(sigs):
        where = f"$.dsseEnvelope.signatures[{i}]"
        entry = _object(sig, where)
        raw = b64decode(entry.get("sig"), where + ".sig")
        if not raw:
            raise BundleError(where + ".sig", "empty")
        keyid = entry.get("keyid")
        if keyid is not None and not isinstance(keyid, str):
            raise BundleError(where + ".keyid", f"expected a string or null, found {_kind(keyid)}")
        signatures.append(raw)
    return Bundle(media_type, material, payload, payload_type, tuple(signatures), obj)


def build_bundle(payload: bytes, signature: bytes, material: dict[str, Any]) -> dict[str, Any]:
    """A bundle as ``model_signing`` writes it for the key and certificate methods."""
    return {
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": b64encode(payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": b64encode(signature), "keyid": ""}],
        },
    }


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _object(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        raise BundleError(path, "missing")
    if not isinstance(value, dict):
        raise BundleError(path, f"expected an object, found {_kind(value)}")
    return value


def _string(obj: dict[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if value is None:
        raise BundleError(f"{path}.{key}", "missing")
    if not isinstance(value, str):
        raise BundleError(f"{path}.{key}", f"expected a string, found {_kind(value)}")
    return value
