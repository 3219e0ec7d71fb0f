"""Signed notes and checkpoints: the published Go example, round trips, refusals, and fuzzing."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import event, given
from hypothesis import strategies as st

from assay.audit import (
    AuditError,
    AuditInputError,
    Checkpoint,
    CheckpointError,
    NoteSigner,
    NoteVerifier,
    SignatureError,
    generate_key,
    leaf_hash,
    load_private_key,
    load_private_key_pem,
    load_public_key_pem,
    open_note,
    parse_checkpoint,
    private_key_pem,
    public_key_pem,
    root_from_leaf_hashes,
    save_private_key,
    sign_checkpoint,
    sign_note,
)
from assay.errors import AssayError

# The example of the golang.org/x/mod/sumdb/note package documentation (its verifier key and signed note).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_NOTE = ("If you think cryptography is the answer to your problem,\n"
              "then you don't know what your problem is.\n"
              "\n"
              "\u2014 PeterNeumann "
              "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")

ORIGIN = "example.com/assay/log"
ROOT = root_from_leaf_hashes([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, generate_key())


def test_published_go_example_verifies() -> None:
    verifier = NoteVerifier.from_key_string(PETER_VKEY)
    assert verifier.key_hash == 0xC74F20A3
    assert verifier.key_string() == PETER_VKEY
    note = open_note(PETER_NOTE, verifier)
    assert note.text.startswith("If you think cryptography")
    assert [s.name for s in note.signatures] == ["PeterNeumann"]
    with pytest.raises(SignatureError):
        open_note(PETER_NOTE.replace("answer", "Answer"), verifier)


def test_checkpoint_round_trip_and_exact_format(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 3, ROOT, signer, extensions=["ext line"])
    body, sigs = note.split("\n\n")
    assert body == f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\next line"
    name, blob = sigs.removeprefix("\u2014 ").removesuffix("\n").split(" ")
    raw = base64.b64decode(blob)
    assert name == ORIGIN and raw[:4] == signer.key_hash.to_bytes(4, "big") and len(raw) == 68
    checkpoint = parse_checkpoint(note, signer.verifier())
    assert (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.extensions) == (ORIGIN, 3, ROOT,
                                                                                             ("ext line",))
    assert checkpoint.note == note
    assert Checkpoint.from_json(checkpoint.to_json(), [signer.verifier()]) == checkpoint
    assert parse_checkpoint(note.encode(), [signer.verifier()]) == checkpoint


def test_key_strings_round_trip(signer: NoteSigner) -> None:
    verifier = NoteVerifier.from_key_string(signer.verifier().key_string())
    again = NoteSigner.from_key_string(signer.key_string())
    assert again.key_hash == signer.key_hash == verifier.key_hash
    parse_checkpoint(sign_checkpoint(ORIGIN, 1, ROOT, again), verifier)


@pytest.mark.parametrize("vkey", [
    "", "PeterNeumann", "PeterNeumann+c74f20a3", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "Peter+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        NoteVerifier.from_key_string(vkey)


def test_tampered_checkpoints_are_refused(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 3, ROOT, signer)
    other_root = base64.b64encode(leaf_hash(b"x")).decode()
    for tampered in (note.replace("\n3\n", "\n4\n"), note.replace(base64.b64encode(ROOT).decode(), other_root),
                     note.replace(ORIGIN + "\n", ORIGIN + "x\n", 1)):
        with pytest.raises(SignatureError):
            parse_checkpoint(tampered, signer.verifier())


def test_wrong_key_and_wrong_key_name_are_refused(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 3, ROOT, signer)
    with pytest.raises(SignatureError, match="no valid signature"):
        parse_checkpoint(note, NoteVerifier(ORIGIN, generate_key().public_key()))
    with pytest.raises(SignatureError, match="no valid signature"):
        parse_checkpoint(note, NoteVerifier("other.example/log", signer.private_key.public_key()))
    # A line naming the trusted key (right name and key hash) with someone else's signature is an attack.
    forged = NoteSigner(ORIGIN, generate_key())
    forged_sig = sign_checkpoint(ORIGIN, 3, ROOT, forged).split("\n\n")[1].split(" ")[2]
    blob = signer.key_hash.to_bytes(4, "big") + base64.b64decode(forged_sig)[4:]
    attack = note.split("\n\n")[0] + f"\n\n\u2014 {ORIGIN} {base64.b64encode(blob).decode()}\n"
    with pytest.raises(SignatureError, match="does not verify"):
        parse_checkpoint(attack, signer.verifier())
    assert SignatureError("x").exit_code == 1 and CheckpointError("x").exit_code == 2


def test_cosigned_notes_keep_unknown_signatures(signer: NoteSigner) -> None:
    witness = NoteSigner("witness.example", generate_key())
    note = sign_checkpoint(ORIGIN, 3, ROOT, [signer, witness])
    checkpoint = parse_checkpoint(note, signer.verifier())
    assert [s.name for s in checkpoint.signatures] == [ORIGIN]
    assert [s.name for s in checkpoint.other_signatures] == ["witness.example"]
    both = parse_checkpoint(note, [signer.verifier(), witness.verifier()])
    assert len(both.signatures) == 2
    sig_line = note.split("\n\n")[1].splitlines()[0]
    with pytest.raises(SignatureError, match="twice"):
        parse_checkpoint(note + sig_line + "\n", signer.verifier())


@pytest.mark.parametrize("body", [
    f"{ORIGIN}\n03\nROOT\n", f"{ORIGIN}\n-3\nROOT\n", f"{ORIGIN}\n+3\nROOT\n", f"{ORIGIN}\n3.0\nROOT\n",
    f"{ORIGIN}\n\u0663\nROOT\n", f"{ORIGIN}\n18446744073709551616\nROOT\n", f"{ORIGIN}\n3\n", "\n3\nROOT\n",
    f"{ORIGIN}\n3\n{base64.b64encode(bytes(31)).decode()}\n", f"{ORIGIN}\n3\nnot base64!\n",
    f"{ORIGIN}\n3\n{base64.b64encode(bytes(32)).decode().rstrip('=')}\n", f"{ORIGIN}\n3\nROOT\n\next\n",
    f"{ORIGIN}\n 3\nROOT\n",
])
def test_malformed_checkpoint_bodies_are_refused_even_when_signed(signer: NoteSigner, body: str) -> None:
    note = sign_note(body.replace("ROOT", base64.b64encode(ROOT).decode()), signer)
    with pytest.raises(CheckpointError) as info:
        parse_checkpoint(note, signer.verifier())
    assert not isinstance(info.value, SignatureError)


def test_size_zero_and_largest_size_parse(signer: NoteSigner) -> None:
    for size in (0, 2**64 - 1):
        assert parse_checkpoint(sign_checkpoint(ORIGIN, size, ROOT, signer), signer.verifier()).size == size


@pytest.mark.parametrize("mangle", [
    lambda n: n.split("\n\n")[0] + "\n",                      # no signature block at all
    lambda n: n.split("\n\n")[0] + "\n\n",                    # blank line, then nothing
    lambda n: n.removesuffix("\n"),                           # last signature line unterminated
    lambda n: n.replace("\u2014 ", "- "),                     # ASCII hyphen instead of the em dash
    lambda n: n.replace("\u2014 ", "\u2014  "),               # two spaces
    lambda n: n.replace("\u2014 ", "\u2014\t"),               # tab (a control character)
    lambda n: n.replace("\n3\n", "\r\n3\n"),                  # carriage return
    lambda n: n.replace(f" {ORIGIN} ", f" {ORIGIN} x "),      # extra field
    lambda n: n[:-6] + "!!!=\n",                              # broken base64
    lambda n: n.split("\n\n")[0] + f"\n\n\u2014 {ORIGIN} AAAA\n",  # signature shorter than the key hash
    lambda n: n + "\n",                                        # trailing blank line
])
def test_malformed_notes_are_refused(signer: NoteSigner, mangle: object) -> None:
    note = sign_checkpoint(ORIGIN, 3, ROOT, signer)
    with pytest.raises(CheckpointError):
        parse_checkpoint(mangle(note), signer.verifier())  # type: ignore[operator]


def test_limits_are_enforced_and_overridable(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 3, ROOT, signer, extensions=["x" * 2000])
    with pytest.raises(CheckpointError, match="larger than 1000 bytes"):
        parse_checkpoint(note, signer.verifier(), max_bytes=1000)
    parse_checkpoint(note, signer.verifier(), max_bytes=4000)
    with pytest.raises(CheckpointError, match="larger than"):
        parse_checkpoint("x" * (64 * 1024 + 1), signer.verifier())
    many = sign_checkpoint(ORIGIN, 3, ROOT, [signer] + [NoteSigner(f"w{i}", generate_key()) for i in range(3)])
    with pytest.raises(CheckpointError, match="more than 2 signatures"):
        parse_checkpoint(many, signer.verifier(), max_signatures=2)


def test_signing_refuses_bad_input(signer: NoteSigner) -> None:
    for args in [("", 1, ROOT), ("a\nb", 1, ROOT), (ORIGIN, -1, ROOT), (ORIGIN, 1, b"short")]:
        with pytest.raises(CheckpointError):
            sign_checkpoint(*args, signer)  # type: ignore[arg-type]
    for text in ("", "no newline", "bell\x07\n"):
        with pytest.raises(CheckpointError):
            sign_note(text, signer)
    with pytest.raises(CheckpointError):
        NoteSigner("has space", generate_key())
    with pytest.raises(CheckpointError):
        NoteSigner("a+b", generate_key())


def test_pem_helpers(tmp_path: Path, signer: NoteSigner) -> None:
    key = signer.private_key
    assert load_private_key_pem(private_key_pem(key)).public_key() == key.public_key()
    encrypted = private_key_pem(key, b"secret")
    assert b"ENCRYPTED" in encrypted
    assert load_private_key_pem(encrypted, b"secret").public_key() == key.public_key()
    assert load_public_key_pem(public_key_pem(key)) == key.public_key()
    with pytest.raises(AuditInputError):
        load_private_key_pem(encrypted, b"wrong")
    with pytest.raises(AuditInputError):
        load_private_key_pem(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    with pytest.raises(AuditInputError, match="Ed25519"):
        load_private_key_pem(ec_pem)
    with pytest.raises(AuditInputError, match="Ed25519"):
        load_public_key_pem(ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo))
    path = tmp_path / "log.key"
    save_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path).public_key() == key.public_key()
    with pytest.raises(AuditInputError, match="already exists"):
        save_private_key(path, generate_key())
    with pytest.raises(AuditInputError):
        load_private_key(tmp_path / "missing.key")


def _mutate(seed: str) -> st.SearchStrategy[str]:
    def apply(ops: list[tuple[int, int, str]]) -> str:
        text = seed
        for kind, pos, chunk in ops:
            pos %= max(len(text), 1)
            if kind == 0:
                text = text[:pos] + chunk + text[pos + 1:]
            elif kind == 1:
                text = text[:pos] + chunk + text[pos:]
            else:
                text = text[:pos] + text[pos + 1 + len(chunk):]
        return text

    return st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000),
                              st.text(alphabet="\n \u2014+=/0123456789abcAZ\r\x00\ud800", max_size=3)),
                    min_size=1, max_size=6).map(apply)


_FUZZ_SIGNER = NoteSigner(ORIGIN, generate_key())
_FUZZ_NOTE = sign_checkpoint(ORIGIN, 3, ROOT, _FUZZ_SIGNER, extensions=["ext"])


@given(st.one_of(_mutate(_FUZZ_NOTE), _mutate(PETER_NOTE), st.text(max_size=300), st.binary(max_size=300)))
def test_fuzz_parser_raises_only_assay_errors(note: str | bytes) -> None:
    for verifiers in ([_FUZZ_SIGNER.verifier()], [NoteVerifier.from_key_string(PETER_VKEY)]):
        try:
            checkpoint = parse_checkpoint(note, verifiers)
        except AuditError as exc:
            event(f"refused: {type(exc).__name__}")
        else:
            event("verified")
            # Whatever survives the mutations and still verifies says exactly what was signed.
            assert (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.extensions) == (
                ORIGIN, 3, ROOT, ("ext",))
        try:
            open_note(note, verifiers)
        except AuditError:
            pass


# --- structured edits of a valid checkpoint: most cases reach the signature check ---------------------------

_WITNESS = NoteSigner("witness.example", generate_key())
_FORGER = NoteSigner(ORIGIN, generate_key())  # the log's name, another key
_COSIGNED = sign_checkpoint(ORIGIN, 3, ROOT, [_FUZZ_SIGNER, _WITNESS], extensions=["ext"])

CP_KEEPING = ("add-witness", "reorder-signatures", "unknown-signature")
"""Edits that keep the body and the log's signature: the checkpoint must still verify, unchanged."""
CP_CHANGING = ("flip-body-byte", "flip-signature-bit", "drop-log-signature", "duplicate-log-signature",
               "other-size-resigned", "other-root-resigned", "other-extension-resigned", "forged-signature")
"""Edits of the body (re-signed by the forger under the log's name, or not) or of the log's signature."""


def _note_parts(note: str) -> tuple[str, list[str]]:
    body, sigs = note.split("\n\n", 1)
    return body + "\n", sigs.splitlines()


def edit_checkpoint(edits: list[tuple[str, int, int]]) -> str:
    """The cosigned fuzz checkpoint with ``edits`` applied."""
    body, sigs = _note_parts(_COSIGNED)
    for k, (op, a, b) in enumerate(edits):
        if op == "add-witness":
            try:
                sigs += _note_parts(sign_note(body, NoteSigner(f"w{a % 3}.example", generate_key())))[1]
            except CheckpointError:  # an earlier edit made the body unsignable: nobody can cosign it
                continue
        elif op == "reorder-signatures" and sigs:
            sigs = sigs[a % len(sigs):] + sigs[:a % len(sigs)]
        elif op == "unknown-signature":
            # a key seen twice is refused (open_note), so each unknown line names its own key
            sigs.append(f"\u2014 unknown{k}.example {base64.b64encode(bytes([a % 256]) * 68).decode()}")
        elif op == "flip-body-byte":
            raw = bytearray(body.encode())
            raw[a % (len(raw) - 1)] ^= 1 << (b % 7)  # never the final newline
            body = raw.decode("utf-8", "replace")
        elif op == "flip-signature-bit":
            name, blob = sigs[0].removeprefix("\u2014 ").split(" ")
            raw = bytearray(base64.b64decode(blob))
            raw[4 + a % (len(raw) - 4)] ^= 1 << (b % 8)
            sigs[0] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
        elif op == "drop-log-signature":
            sigs = [line for line in sigs if not line.startswith(f"\u2014 {ORIGIN} ")]
        elif op == "duplicate-log-signature":
            sigs += [line for line in sigs if line.startswith(f"\u2014 {ORIGIN} ")][:1]
        elif op in ("other-size-resigned", "other-root-resigned", "other-extension-resigned"):
            size, root, ext = 3, ROOT, ["ext"]
            if op == "other-size-resigned":
                size = 4 + a % 1000
            elif op == "other-root-resigned":
                root = leaf_hash(a.to_bytes(4, "big"))
            else:
                ext = [f"ext{a % 10}"]
            body, sigs = _note_parts(sign_checkpoint(ORIGIN, size, root, _FORGER, extensions=ext))
        else:  # forged-signature: the forger's signature line under the log's key hash
            try:
                signed_by_forger = sign_note(body, _FORGER)
            except CheckpointError:  # an earlier edit made the body unsignable (a control character): no-op
                continue
            forged = base64.b64decode(_note_parts(signed_by_forger)[1][0].split(" ")[2])
            blob = _FUZZ_SIGNER.key_hash.to_bytes(4, "big") + forged[4:]
            sigs = [f"\u2014 {ORIGIN} {base64.b64encode(blob).decode()}" if line.startswith(f"\u2014 {ORIGIN} ")
                    else line for line in sigs]
    return body + "\n" + "".join(line + "\n" for line in sigs)


_CP_N = st.integers(0, 1 << 16)
CP_EDITS = st.builds(list.__add__, st.lists(st.tuples(st.sampled_from(CP_KEEPING), _CP_N, _CP_N), max_size=3),
                     st.lists(st.tuples(st.sampled_from(CP_CHANGING), _CP_N, _CP_N), max_size=2))


@given(CP_EDITS)
def test_edited_checkpoints_verify_only_unchanged_and_only_under_the_log_key(
        edits: list[tuple[str, int, int]]) -> None:
    note = edit_checkpoint(edits)
    unchanged = all(op in CP_KEEPING for op, _, _ in edits)
    try:
        checkpoint = parse_checkpoint(note, _FUZZ_SIGNER.verifier())
    except AuditError as exc:
        event(f"log key: refused ({type(exc).__name__})")
        assert not unchanged, (edits, exc)  # completeness: an unchanged checkpoint verifies
        assert isinstance(exc, CheckpointError) and exc.exit_code in (1, 2)
    else:
        event("log key: verified")
        # Soundness: what verifies under the log's key is exactly what the log signed, by the log's key.
        assert (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.extensions) == (
            ORIGIN, 3, ROOT, ("ext",)), edits
        assert [s.name for s in checkpoint.signatures] == [ORIGIN]
        assert checkpoint.note.split("\n\n")[0] == _COSIGNED.split("\n\n")[0]  # the signed body, unchanged
    try:
        forged = parse_checkpoint(note, _FORGER.verifier())
    except AuditError:
        event("forger's key: refused")
    else:  # the forger's key verifies only what the forger signed
        event("forger's key: verified")
        assert any(op.endswith("-resigned") for op, _, _ in edits), edits
        assert [s.name for s in forged.signatures] == [ORIGIN]


@given(st.one_of(_mutate(PETER_VKEY), _mutate("PRIVATE+KEY+" + _FUZZ_SIGNER.key_string()[12:]),
                 st.text(max_size=120)))
def test_fuzz_key_strings_raise_only_assay_errors(text: str) -> None:
    for parse in (NoteVerifier.from_key_string, NoteSigner.from_key_string):
        try:
            parse(text)
        except AssayError:
            pass
