"""assay verify against the outside world: the reference signer's vectors and the OMS spec's bundles."""

from __future__ import annotations

import base64
import json
import shutil
import stat
from pathlib import Path

import pytest

from tests.fixtures.cli import run

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
if not VECTORS.is_dir():  # a checkout beside shared/, as on every developer and CI machine
    VECTORS = Path("/work/shared/vectors")
MT = VECTORS / "oms-model-transparency"
KEYS = MT / "keys" / "certificate"
SPEC = VECTORS / "oms-spec"
IDENTITY = ["--identity", "stefanb@us.ibm.com", "--issuer", "https://sigstore.verify.ibm.com/oauth2"]
VERSIONS = sorted(p.name for p in MT.glob("v*"))


def trust_args(name: str) -> list[str]:
    """The trusted material the vectors' README names for each method."""
    if name.endswith("elliptic-key"):
        return ["--public-key", str(KEYS / "signing-key-pub.pem")]
    if name.endswith("certificate"):
        return ["--cert-chain", str(KEYS / "ca-cert.pem")]
    return ["--sigstore", *IDENTITY]


def model_args(folder: Path) -> list[str]:
    """The model path and flags the reference's own test scripts use for a vector folder."""
    signature = ["--signature", str(folder / "model.sig")]
    if not (folder / "signme-2").exists():  # signed as a single-file model
        return [str(folder / "signme-1"), *signature]
    ignore = ["--ignore", str(folder / "ignore-me")] if (folder / "ignore-me").exists() else []
    return [str(folder), *signature, *ignore]


def writable_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dst


def test_every_reference_version_is_present() -> None:
    assert {"v0.2.0-certificate", "v1.0.0-elliptic-key", "v1.1.0-sigstore"} <= set(VERSIONS)


@pytest.mark.parametrize("name", VERSIONS)
def test_reference_vector_verifies(name: str) -> None:
    folder = MT / name
    result = run("verify", *model_args(folder), *trust_args(name), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] is True and report["problems"] == []
    if name.startswith("v0.2"):
        assert any("v0.2" in w for w in report["warnings"])


SINGLE_FILE = {n for n in VERSIONS if not (MT / n / "signme-2").exists()}
CHANGES = [(n, c) for n in VERSIONS for c in ("byte", "added", "removed")
           if c == "byte" or n not in SINGLE_FILE]  # a single-file model can gain or lose no other file


@pytest.mark.parametrize(("name", "change"), CHANGES)
def test_reference_vector_fails_after_any_change(name: str, change: str, tmp_path: Path) -> None:
    folder = writable_copy(MT / name, tmp_path / name)
    single = not (folder / "signme-2").exists()
    args = model_args(folder)  # before the change: removing signme-2 must not make it a single-file model
    if change == "byte":
        target = folder / "signme-1"
        data = bytearray(target.read_bytes())
        data[0] ^= 0x01
        target.write_bytes(bytes(data))
        expected_kind, resource = "modified", "." if single else "signme-1"
    elif change == "added":
        (folder / "sneaky.py").write_text("import os\n")
        expected_kind, resource = "extra", "sneaky.py"
    else:
        (folder / "signme-2").unlink()
        expected_kind, resource = "missing", "signme-2"
    result = run("verify", *args, *trust_args(name), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["resource"]) for p in problems] == [(expected_kind, resource)]
    if change == "byte":
        assert problems[0]["expected"] != problems[0]["actual"]


def test_single_file_model_that_vanished_cannot_be_verified(tmp_path: Path) -> None:
    folder = writable_copy(MT / "v1.0.0-elliptic-key", tmp_path / "m")
    (folder / "signme-1").unlink()
    result = run("verify", *model_args(folder), *trust_args("elliptic-key"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_sigstore_vector_with_wrong_identity_is_refused() -> None:
    folder = MT / "v1.1.0-sigstore"
    result = run("verify", *model_args(folder), "--sigstore", "--identity", "mallory@example.com",
                 "--issuer", "https://sigstore.verify.ibm.com/oauth2", "--format", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["problems"][0]["kind"] == "wrong-identity"


def test_method_mismatch_is_named() -> None:
    folder = MT / "v1.1.0-certificate"
    result = run("verify", *model_args(folder), "--public-key", str(KEYS / "signing-key-pub.pem"))
    assert result.returncode == 1 and "--cert-chain" in result.stdout


# -- the OMS specification's own bundles ------------------------------------------------------------

SPEC_VALID = {
    # bundle -> (model folder holding the signed bytes, trust flags)
    "key.bundle.json": ("v1.1.0-elliptic-key", trust_args("elliptic-key")),
    "certificate.bundle.json": ("v1.1.0-elliptic-key", trust_args("certificate")),
    "sigstore.bundle.json": ("v1.1.0-sigstore", trust_args("sigstore")),
}


@pytest.mark.parametrize("bundle", sorted(SPEC_VALID))
def test_spec_valid_bundles_verify(bundle: str) -> None:
    folder, trust = SPEC_VALID[bundle]
    result = run("verify", str(MT / folder), "--signature", str(SPEC / "test-vectors/v1.0/valid" / bundle),
                 "--ignore", "ignore-me", "--ignore", "model.sig", *trust)
    assert result.returncode == 0, result.stdout + result.stderr


INVALID = SPEC / "test-vectors/v1.0/invalid"
INVALID_BUNDLES = sorted(p.name for p in INVALID.iterdir()) if INVALID.is_dir() else []


def test_spec_invalid_vectors_are_present() -> None:
    """A missing or empty vector folder fails here: the parametrized test below would only be skipped."""
    assert len(INVALID_BUNDLES) >= 4, f"{INVALID} holds {INVALID_BUNDLES}"
    assert all(name.endswith(".bundle.json") for name in INVALID_BUNDLES), INVALID_BUNDLES


@pytest.mark.parametrize("bundle", INVALID_BUNDLES)
def test_spec_invalid_bundles_are_refused_with_a_json_path(bundle: str) -> None:
    result = run("verify", str(MT / "v1.1.0-elliptic-key"), "--signature",
                 str(SPEC / "test-vectors/v1.0/invalid" / bundle), *trust_args("elliptic-key"))
    assert result.returncode == 2
    assert result.stderr.startswith("assay: error: malformed signature bundle at $")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_spec_wrong_predicate_is_named() -> None:
    result = run("verify", str(MT / "v1.1.0-elliptic-key"), "--signature",
                 str(SPEC / "test-vectors/v1.0/invalid-payload/wrong-predicate.bundle.json"),
                 *trust_args("elliptic-key"), "--format", "json")
    assert result.returncode == 1
    assert "wrong-predicate" in [p["kind"] for p in json.loads(result.stdout)["problems"]]


def schema_validator(name: str):  # noqa: ANN201
    """A Draft 2020-12 validator for one OMS schema, with the others registered for $ref."""
    import jsonschema
    from referencing import Registry, Resource

    schemas = {p.name: json.loads(p.read_text()) for p in (SPEC / "schemas/v1.0").glob("*.json")}
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return jsonschema.Draft202012Validator(schemas[name], registry=registry)


def assert_valid_oms_bundle(path: Path) -> None:
    """The bundle and its decoded statement validate against the OMS v1.0 schemas.

    One known deviation is allowed, and only for the shards method: resources spell their algorithm
    ``sha256-sharded-N`` because that is what model_signing writes and requires (its verifier rejects
    the bare name there), while the schema's enum lists only the bare names. Every other rule holds.
    """
    bundle = json.loads(path.read_text())
    schema_validator("bundle.schema.json").validate(bundle)
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    predicate = statement["predicate"]
    if predicate["serialization"]["method"] == "shards":
        suffix = f"-sharded-{predicate['serialization']['shard_size']}"
        for resource in predicate["resources"]:
            assert resource["algorithm"] == predicate["serialization"]["hash_type"] + suffix
            resource["algorithm"] = resource["algorithm"].removesuffix(suffix)
    schema_validator("statement.schema.json").validate(statement)


def test_schema_validator_rejects_the_spec_invalid_vectors() -> None:
    import jsonschema

    bad = SPEC / "test-vectors/v1.0/invalid/missing-envelope.bundle.json"
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_oms_bundle(bad)
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_oms_bundle(SPEC / "test-vectors/v1.0/invalid-payload/wrong-predicate.bundle.json")
    assert_valid_oms_bundle(SPEC / "test-vectors/v1.0/valid/key.bundle.json")


def test_sigstore_with_an_explicit_trusted_root_file(tmp_path: Path) -> None:
    from assay.signing._sigstore_keyless import bundled_public_good_root

    root = tmp_path / "trusted_root.json"
    root.write_bytes(bundled_public_good_root().read_bytes())
    good = run("verify", *model_args(MT / "v1.0.1-sigstore"), "--sigstore", *IDENTITY, "--trust-root", str(root))
    assert good.returncode == 0, good.stdout + good.stderr


@pytest.mark.parametrize("damage", ["certificateAuthorities", "tlogs", "ctlogs", "mediaType", "not-json"])
def test_unusable_trusted_root_cannot_verify(damage: str, tmp_path: Path) -> None:
    """A trusted root without the authorities this signature needs is exit 2 with one line, never a pass."""
    from assay.signing._sigstore_keyless import bundled_public_good_root

    root = tmp_path / "trusted_root.json"
    doc = json.loads(bundled_public_good_root().read_text())
    doc[damage] = "x" if damage == "mediaType" else []
    root.write_text("not json" if damage == "not-json" else json.dumps(doc))
    result = run("verify", *model_args(MT / "v1.0.1-sigstore"), "--sigstore", *IDENTITY, "--trust-root", str(root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "trusted root" in result.stderr and result.stderr.count("\n") == 1
