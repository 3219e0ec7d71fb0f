"""Fuzzing the bundle and statement parsers: a malformed signature is an AssayError (exit 2) or a
failed verification (exit 1), never another exception."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.errors import AssayError
from assay.signing import verify_model
from assay.signing._bundle import parse_bundle
from assay.signing._certificate import CertificateVerifier
from assay.signing._interface import BundleError, Verification
from assay.signing._key import KeyVerifier
from assay.signing._statement import parse_statement
from assay.signing.keys import load_certificates, load_public_key
from tests.test_fuzz import FUZZ, json_values, mutations
from tests.test_signing_vectors import KEYS, MT

CASES = {
    "v1.1.0-elliptic-key": lambda: KeyVerifier(load_public_key(KEYS / "signing-key-pub.pem")),
    "v0.3.1-elliptic-key": lambda: KeyVerifier(load_public_key(KEYS / "signing-key-pub.pem")),
    "v1.1.0-certificate": lambda: CertificateVerifier(load_certificates(KEYS / "ca-cert.pem")),
    "v0.2.0-certificate": lambda: CertificateVerifier(load_certificates(KEYS / "ca-cert.pem")),
}


def verify_bytes(folder: Path, verifier: object, data: bytes, tmp: Path) -> Verification | None:
    sig = tmp / "fuzzed.sig"
    sig.write_bytes(data)
    model = folder if (folder / "signme-2").exists() else folder / "signme-1"
    try:
        return verify_model(model, verifier, signature=sig, ignore=[folder / "ignore-me"])  # type: ignore[arg-type]
    except AssayError:
        return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_mutated_bundles_never_crash(name: str, tmp_path: Path) -> None:
    folder = MT / name
    verifier = CASES[name]()
    seed = (folder / "model.sig").read_bytes()

    @FUZZ
    @given(mutations(seed))
    def check(data: bytes) -> None:
        result = verify_bytes(folder, verifier, data, tmp_path)
        if result is not None and result.ok:
            # A mutation that still verifies may only touch what the signature does not cover.
            assert parse_bundle(data).payload == parse_bundle(seed).payload

    check()


def _replace_at(doc: object, path: list[int], value: object) -> object:
    """Replace the node reached by following ``path`` (indices modulo each container's size)."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: _replace_at(doc[key], path[1:], value)}
    i = path[0] % len(doc)
    return [*doc[:i], _replace_at(doc[i], path[1:], value), *doc[i + 1:]]


@FUZZ
@given(st.lists(st.integers(0, 50), max_size=6), json_values)
def test_statement_parser_on_structural_mutations(path: list[int], value: object) -> None:
    bundle = json.loads((MT / "v1.1.0-elliptic-key" / "model.sig").read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    mutated = json.dumps(_replace_at(statement, path, value)).encode()
    try:
        parsed = parse_statement(mutated)
    except BundleError as exc:
        assert exc.path.startswith("$.dsseEnvelope.payload")
        return
    if parsed.manifest is not None:
        assert all(r.name for r in parsed.manifest.resources)


@FUZZ
@given(json_values)
def test_bundle_parser_on_any_json(doc: object) -> None:
    try:
        parse_bundle(json.dumps(doc).encode())
    except BundleError as exc:
        assert exc.path.startswith("$")


def test_deeply_nested_bundle_is_a_bundle_error() -> None:
    with pytest.raises(BundleError):
        parse_bundle(b"[" * 100_000 + b"]" * 100_000)
