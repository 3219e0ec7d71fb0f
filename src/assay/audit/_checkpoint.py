"""Signed notes and tlog checkpoints in the transparency-dev formats (C2SP signed-note, tlog-checkpoint).

A signed note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(4-byte key hash || signature)>``. An Ed25519 key's hash is the first four bytes of
SHA-256(name || 0x0A || 0x01 || public key); its verifier key string is ``<name>+<hash hex>+<base64(0x01 ||
public key)>``. A checkpoint is a note whose text is ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional
extension lines. Parsing is strict and bounded; every refusal is one line.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assay.audit._interface import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    AuditInputError,
    CheckpointError,
    NoteSignature,
    SignatureError,
    require_field,
)

MAX_NOTE_BYTES = 64 * 1024
"""Largest signed note accepted, in UTF-8 bytes (``max_bytes`` argument)."""
MAX_SIGNATURES = 100
"""Most signature lines one note may carry (``max_signatures`` argument)."""
ALG_ED25519 = 0x01
"""The signed-note algorithm byte of Ed25519 keys."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified tlog checkpoint: the log's ``origin``, its ``size`` and ``root`` hash, signed by the log.

    ``signatures`` holds the signatures that verified against a trusted key; signature lines from
    keys the verifier does not know are kept in ``other_signatures`` (unverified, e.g. witness cosignatures).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()
    signatures: tuple[NoteSignature, ...] = ()
    other_signatures: tuple[NoteSignature, ...] = field(default=())

    @property
    def body(self) -> str:
        """The signed text of the checkpoint: origin, size, base64 root, extension lines."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @property
    def note(self) -> str:
        """The signed note re-rendered: body, blank line, verified signature lines, then the others."""
        return self.body + "\n" + "".join(s.line() for s in (*self.signatures, *self.other_signatures))

    def to_json(self) -> dict[str, Any]:
        """The checkpoint as JSON (schema ``assay.checkpoint/1``), root in hex, plus the note text."""
        return {"schema": "assay.checkpoint/1", "origin": self.origin, "size": self.size, "root": self.root.hex(),
                "extensions": list(self.extensions), "signatures": [s.to_json() for s in self.signatures],
                "note": self.note}

    @classmethod
    def from_json(cls, data: Any, verifiers: Any) -> Checkpoint:
        """Read what :meth:`to_json` wrote by verifying its ``note`` again with ``verifiers`` (never trusted as is)."""
        note = require_field(data, "note", str, "checkpoint")
        checkpoint = parse_checkpoint(note, verifiers)
        if data.get("root") != checkpoint.root.hex() or data.get("size") != checkpoint.size:
            raise AuditInputError("checkpoint: fields disagree with the signed note")
        return checkpoint
SIG_PREFIX = "\u2014 "
"""Every signature line starts with an em dash (U+2014) and a space."""

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX8 = re.compile(r"[0-9a-f]{8}")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padded, alphabet only, and canonical (re-encodes to the same text)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


def _check_key_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise CheckpointError("a key name must be a non-empty string")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise CheckpointError(f"key name {name[:40]!r} contains a space, '+' or a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError("a key name must be valid UTF-8") from None
    return name


def key_hash(name: str, key: bytes) -> int:
    """The signed-note key hash: first 4 bytes (big-endian) of SHA-256(name || 0x0A || alg byte || key)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class NoteVerifier:
    """A trusted Ed25519 note key: checks signatures made by the signer of the same name and key."""

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        """``public_key`` is a cryptography key or its 32 raw bytes."""
        self.name = _check_key_name(name)
        if isinstance(public_key, bytes):
            if len(public_key) != 32:
                raise CheckpointError("an Ed25519 public key is 32 bytes")
            public_key = Ed25519PublicKey.from_public_bytes(public_key)
        if not isinstance(public_key, Ed25519PublicKey):
            raise CheckpointError("a note verifier needs an Ed25519 public key")
        self.public_key = public_key
        self.key_hash = key_hash(self.name, bytes([ALG_ED25519]) + _raw_public(public_key))

    @classmethod
    def from_key_string(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string ``<name>+<8 hex digits>+<base64(0x01 || public key)>``."""
        if not isinstance(vkey, str) or vkey.count("+") < 2:
            raise CheckpointError("a verifier key must look like <name>+<hash>+<key>")
        name, rest = vkey.split("+", 1)
        hash_hex, key_b64 = rest.split("+", 1)
        if not _HEX8.fullmatch(hash_hex):
            raise CheckpointError("the verifier key hash must be 8 lowercase hex digits")
        key = _b64decode(key_b64, "the verifier key")
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise CheckpointError("the verifier key is not an Ed25519 key (algorithm 1, 32 bytes)")
        verifier = cls(name, key[1:])
        if verifier.key_hash != int(hash_hex, 16):
            raise CheckpointError("the verifier key hash does not match its name and key")
        return verifier

    def key_string(self) -> str:
        """The verifier key string, as the Go note package and the C2SP spec write it."""
        blob = base64.b64encode(bytes([ALG_ED25519]) + _raw_public(self.public_key)).decode("ascii")
        return f"{self.name}+{self.key_hash:08x}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature over ``message``."""
        try:
            self.public_key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class NoteSigner:
    """An Ed25519 note signing key with its name (for a log, conventionally the log's origin)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Wrap a cryptography Ed25519 private key."""
        if not isinstance(private_key, Ed25519PrivateKey):
            raise CheckpointError("a note signer needs an Ed25519 private key")
        self.private_key = private_key
        self._verifier = NoteVerifier(name, private_key.public_key())
        self.name = self._verifier.name
        self.key_hash = self._verifier.key_hash

    @classmethod
    def from_key_string(cls, skey: str) -> NoteSigner:
        """Parse a signer key string ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || 32-byte seed)>``."""
        parts = skey.split("+", 4) if isinstance(skey, str) else []
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX8.fullmatch(parts[3]):
            raise CheckpointError("a signer key must look like PRIVATE+KEY+<name>+<hash>+<key>")
        raw = _b64decode(parts[4], "the signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointError("the signer key is not an Ed25519 key (algorithm 1, 32 bytes)")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_hash != int(parts[3], 16):
            raise CheckpointError("the signer key hash does not match its name and key")
        return signer

    def key_string(self) -> str:
        """The secret signer key string (keep it secret: it holds the private key seed)."""
        seed = self.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())
        blob = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_hash:08x}+{blob}"

    def verifier(self) -> NoteVerifier:
        """The matching verifier, to publish."""
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """The raw Ed25519 signature over ``message``."""
        return self.private_key.sign(message)


@dataclass(frozen=True)
class SignedNote:
    """An opened note: its text, the signatures that verified, and lines from keys not trusted here."""

    text: str
    signatures: tuple[NoteSignature, ...]
    other_signatures: tuple[NoteSignature, ...]


def _check_text(text: str) -> None:
    if not text or not text.endswith("\n"):
        raise CheckpointError("the note text must be non-empty and end with a newline")
    if _CONTROL.search(text):
        raise CheckpointError("the note contains a control character")


def sign_note(text: str, signers: NoteSigner | Sequence[NoteSigner]) -> str:
    """Sign ``text`` with every signer; returns the signed note (text, blank line, signature lines)."""
    signers = [signers] if isinstance(signers, NoteSigner) else list(signers)
    if not signers:
        raise CheckpointError("at least one signer is needed")
    _check_text(text)
    message = text.encode("utf-8")
    lines = [NoteSignature(s.name, s.key_hash, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def _as_text(note: str | bytes, max_bytes: int) -> str:
    if isinstance(note, bytes):
        if len(note) > max_bytes:
            raise CheckpointError(f"the note is larger than {max_bytes} bytes")
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("the note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise CheckpointError("a note must be text")
    # Characters never outnumber UTF-8 bytes, so this cheap check bounds the encode below.
    if len(note) > max_bytes:
        raise CheckpointError(f"the note is larger than {max_bytes} bytes")
    try:
        size = len(note.encode("utf-8"))
    except UnicodeEncodeError:
        raise CheckpointError("the note is not valid UTF-8") from None
    if size > max_bytes:
        raise CheckpointError(f"the note is larger than {max_bytes} bytes")
    return note


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIG_PREFIX):
        raise CheckpointError("a signature line must start with an em dash and a space")
    fields = line[len(SIG_PREFIX):].split(" ")
    if len(fields) != 2:
        raise CheckpointError("a signature line must be '— <name> <base64 signature>'")
    name = _check_key_name(fields[0])
    blob = _b64decode(fields[1], "a signature")
    if len(blob) < 5:
        raise CheckpointError("a signature is too short")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def open_note(note: str | bytes, verifiers: NoteVerifier | Sequence[NoteVerifier],
              max_bytes: int = MAX_NOTE_BYTES, max_signatures: int = MAX_SIGNATURES) -> SignedNote:
    """Parse a signed note and check its signatures against ``verifiers``.

    Signature lines from unknown keys are kept unverified; a bad signature from a trusted key, a
    repeated key, or no valid signature from any trusted key raises :class:`SignatureError`.
    """
    verifiers = [verifiers] if isinstance(verifiers, NoteVerifier) else list(verifiers)
    note = _as_text(note, max_bytes)
    if _CONTROL.search(note):
        raise CheckpointError("the note contains a control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("the note has no signature block (no blank line)")
    text, block = note[:split + 1], note[split + 2:]
    if not block.endswith("\n"):
        raise CheckpointError("the signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise CheckpointError(f"the note has more than {max_signatures} signatures")
    trusted = {(v.name, v.key_hash): v for v in verifiers}
    message = text.encode("utf-8")
    seen: set[tuple[str, int]] = set()
    good: list[NoteSignature] = []
    other: list[NoteSignature] = []
    for line in lines:
        sig = _parse_signature_line(line)
        key = (sig.name, sig.key_hash)
        if key in seen:
            raise SignatureError(f"key {sig.name} signed the note twice")
        seen.add(key)
        verifier = trusted.get(key)
        if verifier is None:
            other.append(sig)
        elif verifier.verify(message, sig.signature):
            good.append(sig)
        else:
            raise SignatureError(f"the signature by {sig.name} does not verify")
    if not good:
        raise SignatureError("the note has no valid signature from a trusted key")
    return SignedNote(text, tuple(good), tuple(other))


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint text that gets signed: origin, decimal size, base64 root, extension lines."""
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise CheckpointError("the origin must be a non-empty single line")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise CheckpointError("the tree size must be an integer from 0 to 2**64-1")
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise CheckpointError(f"the root hash must be {HASH_SIZE} bytes")
    for line in extensions:
        if not isinstance(line, str) or not line or "\n" in line:
            raise CheckpointError("an extension must be a non-empty single line")
    text = "".join(f"{line}\n" for line in (origin, str(size), base64.b64encode(root).decode("ascii"), *extensions))
    _check_text(text)
    return text


def sign_checkpoint(origin: str, size: int, root: bytes, signer: NoteSigner | Sequence[NoteSigner],
                    extensions: Sequence[str] = ()) -> str:
    """The signed checkpoint note for a tree of ``size`` leaves with root hash ``root``."""
    return sign_note(checkpoint_body(origin, size, root, extensions), signer)


def parse_checkpoint(note: str | bytes, verifiers: NoteVerifier | Sequence[NoteVerifier],
                     max_bytes: int = MAX_NOTE_BYTES, max_signatures: int = MAX_SIGNATURES) -> Checkpoint:
    """Open a signed checkpoint and parse its body strictly; raises CheckpointError / SignatureError."""
    opened = open_note(note, verifiers, max_bytes=max_bytes, max_signatures=max_signatures)
    lines = opened.text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint needs an origin, a size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("the checkpoint origin is empty")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise CheckpointError("the checkpoint size is not a decimal number from 0 to 2**64-1")
    root = _b64decode(root_text, "the checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"the checkpoint root hash is not {HASH_SIZE} bytes")
    if any(not line for line in extensions):
        raise CheckpointError("the checkpoint has an empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions), opened.signatures, opened.other_signatures)


def generate_key() -> Ed25519PrivateKey:
    """A new Ed25519 private key for signing checkpoints."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """The key as PKCS#8 PEM, encrypted with ``password`` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key_pem(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from PEM; raises AuditInputError for anything else or a wrong password."""
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditInputError("not a readable PEM private key (or wrong password)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditInputError("the log key must be an Ed25519 key")
    return key


def load_public_key_pem(data: bytes) -> Ed25519PublicKey:
    """Read an Ed25519 public key from PEM; raises AuditInputError for anything else."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditInputError("not a readable PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditInputError("the log key must be an Ed25519 key")
    return key


def save_private_key(path: Path, key: Ed25519PrivateKey, password: bytes | None = None) -> None:
    """Write the key as PEM to a new file readable by its owner only; refuses to overwrite.

    Atomic: the PEM is written and synced to a temporary file beside ``path``, which is then hard-linked to
    ``path`` (a link, unlike a rename, fails when ``path`` exists). A crash leaves either no key or the whole key,
    never an empty file that would stop every later write."""
    if path.exists():
        raise AuditInputError(f"{path} already exists; refusing to overwrite a key")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise AuditInputError(f"cannot create {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp makes the file 0600
            handle.write(private_key_pem(key, password))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise AuditInputError(f"{path} already exists; refusing to overwrite a key") from None
        except OSError as exc:
            raise AuditInputError(f"cannot create {path}: {exc.strerror}") from None
        _sync_folder(path.parent)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened and synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_private_key(path: Path, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read the log key from a PEM file."""
    from assay._files import read_bounded
    from assay.errors import InputError

    try:
        data = read_bounded(path, MAX_NOTE_BYTES, "max_note_bytes", "key file")
    except InputError as exc:
        raise AuditInputError(str(exc)) from None
    return load_private_key_pem(data, password)
