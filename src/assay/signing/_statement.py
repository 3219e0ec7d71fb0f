"""The in-toto Statement v1 with the OMS predicate: build it from a manifest, read a manifest back.

Reading checks everything a verifier relies on and names the JSON path of a fault. It accepts the
v1.0 predicate (``model_signing`` 0.3 and later) and the ``Digests/v0.1`` predicate of 0.2.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from assay.manifest import HASH_TYPES, Manifest, Resource, Serialization
from assay.signing._interface import BundleError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
PREDICATE_TYPE_V02 = "https://model_signing/Digests/v0.1"
"""The predicate ``model_signing`` 0.2 wrote: one subject per file, no serialization record."""
_HEX = re.compile(r"[0-9a-f]+")
_SHARDED = re.compile(r"(sha256|blake2b|blake3)-sharded-[0-9]+")
_P = "$.dsseEnvelope.payload"


@dataclass(frozen=True)
class Statement:
    """A statement read from a bundle: its predicate type and, if it is an OMS one, the manifest."""

    predicate_type: str
    manifest: Manifest | None
    subject_digest: str | None
    layout: str


def build_statement(manifest: Manifest) -> bytes:
    """The statement JSON that gets signed, laid out as ``model_signing`` writes it."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": manifest.root_digest.hex()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": manifest.serialization.to_json(),
            "resources": [{"name": r.name, "algorithm": r.algorithm, "digest": r.hex} for r in manifest.resources],
        },
    }
    return json.dumps(statement, indent=2).encode("utf-8")


def parse_statement(payload: bytes) -> Statement:
    """Read the signed statement; raise BundleError (with a JSON path) if it is malformed."""
    try:
        doc = json.loads(payload)
    except RecursionError:
        raise BundleError(_P, "statement nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(_P, f"statement is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BundleError(_P, "statement is not a JSON object")
    if doc.get("_type") != STATEMENT_TYPE:
        raise BundleError(f"{_P}._type", f"expected {STATEMENT_TYPE!r}, found {doc.get('_type')!r}")
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str):
        raise BundleError(f"{_P}.predicateType", "missing or not a string")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise BundleError(f"{_P}.subject", "expected a non-empty array")
    if predicate_type == PREDICATE_TYPE_V02:
        return Statement(predicate_type, _manifest_v02(subjects), None, "v0.2 (Digests/v0.1)")
    if predicate_type != PREDICATE_TYPE:
        return Statement(predicate_type, None, None, "unknown")
    if len(subjects) != 1:
        raise BundleError(f"{_P}.subject", f"expected exactly one subject, found {len(subjects)}")
    subject = _obj(subjects[0], f"{_P}.subject[0]")
    name = subject.get("name")
    if not isinstance(name, str) or not name:
        raise BundleError(f"{_P}.subject[0].name", "missing or empty")
    digest = _obj(subject.get("digest"), f"{_P}.subject[0].digest").get("sha256")
    if not isinstance(digest, str) or not _HEX.fullmatch(digest):
        raise BundleError(f"{_P}.subject[0].digest.sha256", "missing or not lowercase hex")
    predicate = _obj(doc.get("predicate"), f"{_P}.predicate")
    serialization = _serialization(_obj(predicate.get("serialization"), f"{_P}.predicate.serialization"))
    resources = predicate.get("resources")
    if not isinstance(resources, list):
        raise BundleError(f"{_P}.predicate.resources", "expected an array")
    items = []
    seen: set[str] = set()
    for i, raw in enumerate(resources):
        where = f"{_P}.predicate.resources[{i}]"
        entry = _obj(raw, where)
        rname = _name(entry, where, serialization.method)
        if rname in seen:
            raise BundleError(f"{where}.name", f"{rname!r} is listed twice")
        seen.add(rname)
        algorithm = entry.get("algorithm")
        if algorithm not in HASH_TYPES and not (isinstance(algorithm, str) and _SHARDED.fullmatch(algorithm)):
            raise BundleError(f"{where}.algorithm", f"unknown algorithm {algorithm!r}")
        items.append(Resource(rname, algorithm, _digest(entry.get("digest"), f"{where}.digest")))
    manifest = Manifest(name, serialization, tuple(items))
    return Statement(predicate_type, manifest, digest, "v1.0")


def _manifest_v02(subjects: list[Any]) -> Manifest:
    items = []
    for i, raw in enumerate(subjects):
        where = f"{_P}.subject[{i}]"
        entry = _obj(raw, where)
        name = _name(entry, where, "files")
        value = _obj(entry.get("digest"), f"{where}.digest").get("sha256")
        items.append(Resource(name, "sha256", _digest(value, f"{where}.digest.sha256")))
    return Manifest("(not recorded in v0.2 signatures)", Serialization("files", "sha256"), tuple(items))


def _serialization(obj: dict[str, Any]) -> Serialization:
    where = f"{_P}.predicate.serialization"
    method = obj.get("method")
    if method not in ("files", "shards"):
        raise BundleError(f"{where}.method", f"expected 'files' or 'shards', found {method!r}")
    hash_type = obj.get("hash_type")
    if hash_type not in HASH_TYPES:
        raise BundleError(f"{where}.hash_type", f"unknown hash type {hash_type!r}")
    allow = obj.get("allow_symlinks")
    if allow in ("true", "false"):  # model_signing 0.2 wrote strings
        allow = allow == "true"
    if not isinstance(allow, bool):
        raise BundleError(f"{where}.allow_symlinks", "expected a boolean")
    shard_size = obj.get("shard_size")
    if isinstance(shard_size, float) and shard_size.is_integer():
        shard_size = int(shard_size)  # model_signing writes it through a protobuf Struct, as a double
    if method == "shards" and (isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size <= 0):
        raise BundleError(f"{where}.shard_size", "expected a positive integer for the shards method")
    ignores = obj.get("ignore_paths", [])
    if not isinstance(ignores, list) or not all(isinstance(p, str) and p for p in ignores):
        raise BundleError(f"{where}.ignore_paths", "expected an array of non-empty strings")
    for i, p in enumerate(ignores):
        _check_path(p, f"{where}.ignore_paths[{i}]")
    return Serialization(method, hash_type, allow, shard_size if method == "shards" else None,
                         tuple(sorted(set(ignores))))


def _name(entry: dict[str, Any], where: str, method: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise BundleError(f"{where}.name", "missing or empty")
    _check_name(name, method, f"{where}.name")
    return name


def _digest(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise BundleError(where, "missing or not lowercase hex")
    return bytes.fromhex(value)


def _check_name(name: str, method: str, where: str) -> None:
    if method == "shards":
        parts = name.rsplit(":", 2)
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit() or int(parts[1]) >= int(parts[2]):
            raise BundleError(where, f"shard name {name!r} is not PATH:START:END with START < END")
        name = parts[0]
    if name != ".":
        _check_path(name, where)


def _check_path(path: str, where: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise BundleError(where, f"{path!r} is not a normalized relative POSIX path")


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(path, "missing or not an object")
    return value
