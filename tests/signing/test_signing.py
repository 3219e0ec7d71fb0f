"""assay hash/sign/verify/keygen: round trips with the reference implementation, failure reports, rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fixtures.cli import run
from tests.signing.test_signing_vectors import KEYS, assert_valid_oms_bundle

METHODS = ["key", "certificate"]
LAYOUTS = [("files", "sha256"), ("shards", "sha256"), ("files", "blake3"), ("shards", "blake3")]
SHARD = 1 << 20


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    """A model folder with nested, empty, multi-shard and non-ASCII files, and names whose order differs
    between path-component and plain string sorting."""
    root = tmp_path / "tiny-model"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b.bin").write_bytes(os.urandom(3 * SHARD + 17))
    (root / "a-c.json").write_text('{"x": 1}')
    (root / "empty.txt").write_bytes(b"")
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "vocab-é.txt").write_text("hello\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


@pytest.fixture()
def chain(tmp_path: Path) -> Path:
    """Leaf-first certificate chain for the vectors' signing key (leaf, then intermediate)."""
    path = tmp_path / "chain.pem"
    path.write_bytes((KEYS / "signing-key-cert.pem").read_bytes() + (KEYS / "int-ca-cert.pem").read_bytes())
    return path


def assay_sign(model: Path, method: str, layout: tuple[str, str], chain: Path) -> None:
    args = ["sign", str(model), "--key", str(KEYS / "signing-key.pem"), "--hash", layout[1]]
    if layout[0] == "shards":
        args += ["--shard-size", str(SHARD)]
    if method == "certificate":
        args += ["--cert-chain", str(chain)]
    result = run(*args)
    assert result.returncode == 0, result.stderr


def reference_verify(model: Path, method: str) -> None:
    from model_signing import verifying

    config = verifying.Config()
    if method == "key":
        config.use_elliptic_key_verifier(public_key=KEYS / "signing-key-pub.pem")
    else:
        config.use_certificate_verifier(certificate_chain=[KEYS / "ca-cert.pem"])
    config.verify(model, model / "model.sig")  # raises on failure; guesses the hashing from the bundle


def reference_sign(model: Path, method: str, layout: tuple[str, str]) -> None:
    from model_signing import hashing, signing

    hashing_config = hashing.Config()
    if layout[0] == "shards":
        hashing_config.use_shard_serialization(hashing_algorithm=layout[1], shard_size=SHARD)
    else:
        hashing_config.use_file_serialization(hashing_algorithm=layout[1])
    hashing_config.set_ignored_paths(paths=["model.sig"])
    config = signing.Config().set_hashing_config(hashing_config)
    if method == "key":
        config.use_elliptic_key_signer(private_key=KEYS / "signing-key.pem")
    else:
        config.use_certificate_signer(private_key=KEYS / "signing-key.pem",
                                      signing_certificate=KEYS / "signing-key-cert.pem",
                                      certificate_chain=[KEYS / "int-ca-cert.pem"])
    config.sign(model, model / "model.sig")


def trust(method: str) -> list[str]:
    if method == "key":
        return ["--public-key", str(KEYS / "signing-key-pub.pem")]
    return ["--cert-chain", str(KEYS / "ca-cert.pem")]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: "-".join(x))
@pytest.mark.parametrize("method", METHODS)
def test_reference_verifies_what_assay_signed(model: Path, method: str, layout: tuple[str, str],
                                              chain: Path) -> None:
    assay_sign(model, method, layout, chain)
    assert_valid_oms_bundle(model / "model.sig")
    reference_verify(model, method)
    (model / "a-c.json").write_text('{"x": 2}')
    with pytest.raises(ValueError, match="a-c.json"):
        reference_verify(model, method)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: "-".join(x))
@pytest.mark.parametrize("method", METHODS)
def test_assay_verifies_what_the_reference_signed(model: Path, method: str, layout: tuple[str, str]) -> None:
    reference_sign(model, method, layout)
    result = run("verify", str(model), *trust(method), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    (model / "tokenizer" / "vocab-é.txt").write_text("hellO\n", encoding="utf-8")
    result = run("verify", str(model), *trust(method), "--format", "json")
    assert result.returncode == 1
    assert {p["resource"].split(":")[0] for p in json.loads(result.stdout)["problems"]} == {"tokenizer/vocab-é.txt"}


def test_identity_equals_the_reference_root_digest(model: Path) -> None:
    from model_signing import hashing
    from model_signing._signing.signing import Payload

    reference = Payload(hashing.Config().hash(model)).statement.pb
    result = run("hash", str(model), "--format", "json")
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert ours["identity"] == "sha256:" + reference.subject[0].digest["sha256"]
    assert [r["name"] for r in ours["resources"]] == ["a/b.bin", "a-c.json", "empty.txt", "tokenizer/vocab-é.txt"]


def test_signing_never_hashes_the_signature_and_keeps_the_identity(model: Path, chain: Path) -> None:
    before = json.loads(run("hash", str(model), "--format", "json").stdout)["identity"]
    assay_sign(model, "key", ("files", "sha256"), chain)
    assay_sign(model, "key", ("files", "sha256"), chain)  # signing again over an existing model.sig
    after = json.loads(run("hash", str(model), "--format", "json").stdout)
    assert after["identity"] == before
    assert "model.sig" not in [r["name"] for r in after["resources"]]
    assert run("verify", str(model), *trust("key")).returncode == 0


def test_signature_outside_the_folder(model: Path, tmp_path: Path) -> None:
    sig = tmp_path / "elsewhere.sig"
    result = run("sign", str(model), "--key", str(KEYS / "signing-key.pem"), "--signature", str(sig))
    assert result.returncode == 0 and sig.is_file()
    assert run("verify", str(model), "--signature", str(sig), *trust("key")).returncode == 0


def test_wrong_key_and_bad_signature_are_named(model: Path, tmp_path: Path) -> None:
    assert run("keygen", str(tmp_path / "other"), "--curve", "p521").returncode == 0
    assay_sign(model, "key", ("files", "sha256"), tmp_path)
    result = run("verify", str(model), "--public-key", str(tmp_path / "other.pub.pem"), "--format", "json")
    assert result.returncode == 1 and json.loads(result.stdout)["problems"][0]["kind"] == "wrong-key"
    bundle = json.loads((model / "model.sig").read_text())
    sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    (model / "model.sig").write_text(json.dumps(bundle))
    result = run("verify", str(model), *trust("key"), "--format", "json")
    assert result.returncode == 1 and json.loads(result.stdout)["problems"][0]["kind"] == "bad-signature"


def test_own_keys_on_every_curve_round_trip(model: Path, tmp_path: Path) -> None:
    for curve in ("p256", "p384", "p521"):
        prefix = tmp_path / curve
        assert run("keygen", str(prefix), "--curve", curve).returncode == 0
        assert (prefix.with_suffix(".pem").stat().st_mode & 0o777) == 0o600
        assert run("sign", str(model), "--key", f"{prefix}.pem").returncode == 0
        assert run("verify", str(model), "--public-key", f"{prefix}.pub.pem").returncode == 0
    again = run("keygen", str(tmp_path / "p256"))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_certificate_from_an_untrusted_ca_is_refused(model: Path, chain: Path, tmp_path: Path) -> None:
    assay_sign(model, "certificate", ("files", "sha256"), chain)
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(_self_signed_ca())
    result = run("verify", str(model), "--cert-chain", str(other_ca), "--format", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["problems"][0]["kind"] == "untrusted-certificate"


def _self_signed_ca() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_allow_unsigned_files_and_ignore(model: Path, chain: Path) -> None:
    assay_sign(model, "key", ("files", "sha256"), chain)
    (model / "notes.md").write_text("added later")
    assert run("verify", str(model), *trust("key")).returncode == 1
    assert run("verify", str(model), *trust("key"), "--allow-unsigned-files").returncode == 0
    assert run("verify", str(model), *trust("key"), "--ignore", str(model / "notes.md")).returncode == 0
    (model / "a-c.json").unlink()
    result = run("verify", str(model), *trust("key"), "--allow-unsigned-files", "--format", "json")
    assert result.returncode == 1
    assert [p["kind"] for p in json.loads(result.stdout)["problems"]] == ["missing"]


@pytest.mark.parametrize("case", ["symlink", "fifo", "non-utf8"])
def test_unhashable_entries_are_refused(model: Path, case: str) -> None:
    if case == "symlink":
        (model / "link.bin").symlink_to(model / "a" / "b.bin")
    elif case == "fifo":
        os.mkfifo(model / "pipe")
    else:
        open(os.path.join(os.fsencode(model), b"bad-\xff.bin"), "wb").close()
    result = run("hash", str(model))
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    if case == "symlink":
        assert "--allow-symlinks" in result.stderr
        followed = run("hash", str(model), "--allow-symlinks", "--format", "json")
        assert followed.returncode == 0 and "link.bin" in followed.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["verify", "{model}", "--public-key", "{missing}"], "does not exist"),
    (["verify", "{model}", "--public-key", "{garbage}"], "not a readable PEM public key"),
    (["verify", "{model}"], "exactly one of"),
    (["verify", "{model}", "--public-key", "{pub}", "--signature", "{missing}"], "does not exist"),
    (["sign", "{model}", "--key", "{garbage}"], "not a readable PEM private key"),
    (["hash", "{missing}"], "no such file"),
])
def test_could_not_verify_exits_2_with_one_line(model: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    values = {"model": str(model), "missing": str(tmp_path / "nope"), "garbage": str(garbage),
              "pub": str(KEYS / "signing-key-pub.pem")}
    result = run(*[a.format(**values) for a in args])
    assert result.returncode == 2
    assert needle in result.stderr and result.stderr.count("\n") == 1


def test_python_api(model: Path, tmp_path: Path) -> None:
    import assay

    manifest = assay.hash_model(model)
    signature = assay.sign(model, key=KEYS / "signing-key.pem")
    assert signature == model / "model.sig"
    result = assay.verify(model, public_key=KEYS / "signing-key-pub.pem")
    assert result.ok and result.manifest.identity == manifest.identity
    (model / "a" / "b.bin").write_bytes(b"swapped")
    result = assay.verify(model, public_key=KEYS / "signing-key-pub.pem")
    assert not result.ok and result.problems[0].resource == "a/b.bin"
