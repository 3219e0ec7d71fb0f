"""Fuzzing the bundle and statement parsers and the verifier: a malformed signature is an AssayError (exit 2)
or a failed verification (exit 1), never another exception; and what verifies is exactly what was signed.

Two generators. Raw byte mutations of the reference vectors exercise the parsers (most of those bundles stop
at the JSON or base64 layer). Structured edits start from the same valid bundles and change chosen fields
(payload and signature bits, the signed resources, the verification material), re-serialize the JSON, or
re-sign with a key the verifier does not trust, so that most cases reach the signature check and the file
comparison. The soundness property: a bundle that verifies under the vector's key carries the original
statement (same payload, identity and signer), and one re-signed with another key verifies only under that key.
``pytest --hypothesis-show-statistics`` shows how many cases reached each outcome (``event``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import event, given
from hypothesis import strategies as st

from assay.errors import AssayError
from assay.signing import verify_model
from assay.signing._bundle import parse_bundle
from assay.signing._certificate import CertificateVerifier
from assay.signing._dsse import pae
from assay.signing._interface import BundleError, Verification, Verifier
from assay.signing._key import KeySigner, KeyVerifier
from assay.signing._keys import key_hint, load_certificates, load_public_key
from assay.signing._statement import parse_statement
from tests.scan.test_fuzz import json_values, mutations
from tests.signing.test_signing_vectors import KEYS, MT

CASES: dict[str, Callable[[], Verifier]] = {
    "v1.1.0-elliptic-key": lambda: KeyVerifier(load_public_key(KEYS / "signing-key-pub.pem")),
    "v0.3.1-elliptic-key": lambda: KeyVerifier(load_public_key(KEYS / "signing-key-pub.pem")),
    "v1.1.0-certificate": lambda: CertificateVerifier(load_certificates(KEYS / "ca-cert.pem")),
    "v0.2.0-certificate": lambda: CertificateVerifier(load_certificates(KEYS / "ca-cert.pem")),
}

FOREIGN = ec.generate_private_key(ec.SECP384R1())
"""A key the vectors' verifiers do not trust: bundles re-signed with it must verify under it and nothing else."""


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bundles")


def verify_bytes(folder: Path, verifier: object, data: bytes, tmp: Path) -> Verification | None:
    """Verify the vector's model against signature bytes ``data``; None when the bundle is refused unread.

    The vector's own model.sig is ignored: the fuzzed bundle lies outside the folder, and model_signing 0.2
    signatures record no ignore paths, so that file would otherwise be an unsigned extra.
    """
    sig = tmp / "fuzzed.sig"
    sig.write_bytes(data)
    model = folder if (folder / "signme-2").exists() else folder / "signme-1"
    try:
        return verify_model(model, verifier, signature=sig,  # type: ignore[arg-type]
                            ignore=[folder / "ignore-me", folder / "model.sig"])
    except AssayError:
        return None


def _outcome(result: Verification | None) -> str:
    if result is None:
        return "refused before verification (malformed bundle)"
    return "verified" if result.ok else f"verification failed ({result.problems[0].kind})"


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_mutated_bundles_never_crash(scratch: Path, name: str, data: st.DataObject) -> None:
    folder = MT / name
    seed = (folder / "model.sig").read_bytes()
    mutated = data.draw(mutations(seed), label="bundle bytes")
    result = verify_bytes(folder, CASES[name](), mutated, scratch)
    event(_outcome(result))
    if result is not None and result.ok:
        # A mutation that still verifies may only touch what the signature does not cover.
        assert parse_bundle(mutated).payload == parse_bundle(seed).payload


# --- structured edits of valid bundles -----------------------------------------------------------------------

KEEPING = ("reserialize", "url-safe-payload", "unpadded-signature", "unknown-field", "duplicate-signature")
"""Edits that keep the signed statement and its signature: the bundle must still verify."""
CHANGING = ("flip-payload-bit", "flip-signature-bit", "edit-resource-digest", "drop-resource", "duplicate-resource",
            "rename-resource", "edit-subject-digest", "reorder-resources", "drop-signature")
"""Edits of what the signature covers (or of the signature itself)."""
RESIGN = (None, "foreign-key", "foreign-key-and-hint")
"""Keep the signature, replace it with the foreign key's over the (edited) payload, or also name that key."""

_ARGS = st.integers(0, 1 << 16)
EDITS = st.builds(list.__add__, st.lists(st.tuples(st.sampled_from(KEEPING), _ARGS, _ARGS), max_size=3),
                  st.lists(st.tuples(st.sampled_from(CHANGING), _ARGS, _ARGS), max_size=2))
"""Up to three keeping edits, then up to two changing ones: about a third of the cases change nothing."""


def _b64(data: bytes, url_safe: bool = False, pad: bool = True) -> str:
    text = (base64.urlsafe_b64encode if url_safe else base64.b64encode)(data).decode()
    return text if pad else text.rstrip("=")


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def _flip_hex(text: str, at: int) -> str:
    i = at % len(text)
    return text[:i] + ("0" if text[i] != "0" else "1") + text[i + 1:]


def _resources(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The signed per-file entries: ``predicate.resources`` (OMS v1.0), the subjects for model_signing 0.2."""
    resources = statement.get("predicate", {}).get("resources")
    return resources if isinstance(resources, list) else statement["subject"]


def _edit_statement(payload: bytes, op: str, a: int) -> bytes:
    try:
        statement = json.loads(payload)
        resources = _resources(statement)
    except (ValueError, TypeError, KeyError, AttributeError):  # an earlier edit broke the statement already
        return payload
    subject = statement.get("subject")
    if not resources or not isinstance(subject, list) or not subject:  # an earlier edit renamed or emptied it
        return payload
    try:
        i = a % len(resources)
        if op == "edit-resource-digest":
            digest = resources[i]["digest"]
            if isinstance(digest, dict):
                digest["sha256"] = _flip_hex(digest["sha256"], a)
            else:
                resources[i]["digest"] = _flip_hex(digest, a)
        elif op == "drop-resource":
            del resources[i]
        elif op == "duplicate-resource":
            resources.append(dict(resources[i]))
        elif op == "rename-resource":
            resources[i]["name"] += "x"
        elif op == "edit-subject-digest":
            statement["subject"][0]["digest"]["sha256"] = _flip_hex(statement["subject"][0]["digest"]["sha256"], a)
        else:  # reorder-resources
            resources.reverse()
    except (KeyError, TypeError, IndexError, AttributeError, ZeroDivisionError):  # an earlier edit broke this part
        return payload
    return json.dumps(statement, indent=2).encode()


def apply_edits(seed: bytes, edits: list[tuple[str, int, int]], resign: str | None) -> tuple[bytes, dict[str, Any]]:
    """The seed bundle with ``edits`` applied (and re-signed as ``resign`` says); also the edited document."""
    doc = json.loads(seed)
    envelope = doc["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    indent: int | None = 2
    for op, a, b in edits:
        signatures = envelope["signatures"]
        if op == "reserialize":
            indent = (None, 0, 1, 4)[a % 4]
            doc = {key: doc[key] for key in (sorted(doc) if b % 2 else reversed(list(doc)))}
        elif op == "url-safe-payload":
            envelope["payload"] = _b64(payload, url_safe=True, pad=bool(b % 2))
            continue
        elif op == "unpadded-signature":
            for sig in signatures:
                sig["sig"] = sig["sig"].rstrip("=")
            continue
        elif op == "unknown-field":
            doc[f"x-fuzz-{a % 7}"] = {"note": b}
        elif op == "duplicate-signature":
            signatures.extend(dict(sig) for sig in signatures[:1])
        elif op == "drop-signature":
            if len(signatures) > 1:
                del signatures[a % len(signatures)]
            else:
                envelope["signatures"] = []
        elif op == "flip-payload-bit":
            payload = _flip(payload, b)
        elif op == "flip-signature-bit":
            sig = signatures[a % len(signatures)] if signatures else None
            if sig is not None:
                sig["sig"] = _b64(_flip(base64.b64decode(sig["sig"] + "=" * (-len(sig["sig"]) % 4)), b))
        else:
            payload = _edit_statement(payload, op, a)
        envelope["payload"] = _b64(payload)
    if resign is not None:
        signature = KeySigner(FOREIGN).sign(pae(payload))
        envelope["signatures"] = [{"sig": _b64(signature), "keyid": ""}]
        if resign == "foreign-key-and-hint" and "publicKey" in doc["verificationMaterial"]:
            doc["verificationMaterial"] = {"publicKey": {"hint": key_hint(FOREIGN.public_key())}, "tlogEntries": []}
    return json.dumps(doc, indent=indent).encode(), doc


@pytest.fixture(scope="module")
def originals() -> dict[str, Verification]:
    """Each vector verified unmodified: the identity and signer that any accepted edit must keep."""
    out = {}
    for name, make in CASES.items():
        folder = MT / name
        model = folder if (folder / "signme-2").exists() else folder / "signme-1"
        result = verify_model(model, make(), signature=folder / "model.sig", ignore=[folder / "ignore-me"])
        assert result.ok and result.manifest is not None, result.problems
        out[name] = result
    return out


@pytest.mark.parametrize("name", sorted(CASES))
@given(edits=EDITS, resign=st.sampled_from(RESIGN))
def test_edited_bundles_verify_only_unchanged_and_only_under_the_signing_key(
        scratch: Path, originals: dict[str, Verification], name: str, edits: list[tuple[str, int, int]],
        resign: str | None) -> None:
    folder = MT / name
    seed = (folder / "model.sig").read_bytes()
    original = originals[name]
    data, doc = apply_edits(seed, edits, resign)
    before, after = parse_bundle(seed), _envelope(doc)
    same_statement = after[0] == before.payload
    # Unchanged: the same statement, and the vector's own signature still among those the envelope carries.
    unchanged = resign is None and same_statement and bool(set(after[1]) & set(before.signatures))

    result = verify_bytes(folder, CASES[name](), data, scratch)
    event(f"vector key: {_outcome(result)}")
    if result is not None and result.ok:
        assert unchanged, (edits, resign)
        assert parse_bundle(data).payload == before.payload
        assert result.manifest is not None and result.manifest.identity == original.manifest.identity
        assert result.signer == original.signer
    if unchanged:  # the accepting path is reached: re-serializing a bundle does not break it
        assert result is not None and result.ok, (edits, result and result.problems)

    if "publicKey" not in doc["verificationMaterial"]:
        return
    foreign = verify_bytes(folder, KeyVerifier(FOREIGN.public_key()), data, scratch)
    event(f"foreign key: {_outcome(foreign)}")
    if foreign is not None and foreign.ok:
        assert resign is not None, edits  # only what the foreign key signed verifies under it
        assert foreign.manifest is not None and foreign.manifest.identity == original.manifest.identity
    if resign == "foreign-key-and-hint" and same_statement:
        assert foreign is not None and foreign.ok, (edits, foreign and foreign.problems)


def _envelope(doc: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    """The payload and signatures of an edited bundle document, decoded as the parser decodes them."""
    envelope = doc["dsseEnvelope"]
    decode = base64.urlsafe_b64decode if "-" in envelope["payload"] or "_" in envelope["payload"] else base64.b64decode
    payload = decode(envelope["payload"] + "=" * (-len(envelope["payload"]) % 4))
    return payload, [base64.b64decode(s["sig"] + "=" * (-len(s["sig"]) % 4)) for s in envelope["signatures"]]


def _replace_at(doc: object, path: list[int], value: object) -> object:
    """Replace the node reached by following ``path`` (indices modulo each container's size)."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: _replace_at(doc[key], path[1:], value)}
    i = path[0] % len(doc)
    return [*doc[:i], _replace_at(doc[i], path[1:], value), *doc[i + 1:]]


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


@given(json_values)
def test_bundle_parser_on_any_json(doc: object) -> None:
    try:
        parse_bundle(json.dumps(doc).encode())
    except BundleError as exc:
        assert exc.path.startswith("$")


def test_deeply_nested_bundle_is_a_bundle_error() -> None:
    with pytest.raises(BundleError):
        parse_bundle(b"[" * 100_000 + b"]" * 100_000)


def test_a_certificate_with_an_invalid_x509_version_is_refused_not_a_crash(scratch: Path) -> None:
    """Found by the fuzzer on a fresh clone: a flipped bit in the certificate's version field made cryptography
    raise InvalidVersion (not a ValueError), which escaped as a traceback."""
    folder = MT / "v0.2.0-certificate"
    bundle = json.loads((folder / "model.sig").read_bytes())
    certs = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
    der = base64.b64decode(certs[0]["rawBytes"])
    version = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (X.509 v3)
    assert version in der
    certs[0]["rawBytes"] = base64.b64encode(der.replace(version, bytes.fromhex("a00302010a"), 1)).decode()
    result = verify_bytes(folder, CASES["v0.2.0-certificate"](), json.dumps(bundle).encode(), scratch)
    assert result is None  # refused as a malformed bundle: one clear error, exit 2
