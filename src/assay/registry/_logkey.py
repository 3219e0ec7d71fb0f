"""The audit log's signing key and witness folder: where they are (``ASSAY_LOG_KEY``, ``ASSAY_WITNESS``), and the
signer and verifier made from the key. The key is created once, atomically; once the log holds checkpoints a
missing key is an error, never silently replaced."""

from __future__ import annotations

import os
from pathlib import Path

from assay._files import read_bounded
from assay.audit import (
    LOG_KEY_NAME,
    MAX_NOTE_BYTES,
    AuditError,
    NoteSigner,
    NoteVerifier,
    generate_key,
    load_private_key,
    load_public_key_pem,
    public_key_pem,
    save_private_key,
)
from assay.errors import InputError


def key_path(home: Path) -> Path:
    """Where the registry's Ed25519 log key lives: ``ASSAY_LOG_KEY`` when set (a path outside ``ASSAY_HOME``, so
    the key need not sit beside the rows it protects), else ``ASSAY_HOME/keys/audit-log.pem`` (mode 0600); the
    public half is ``audit-log.pub.pem`` beside it, to hand to auditors."""
    override = os.environ.get("ASSAY_LOG_KEY")
    return Path(override).expanduser() if override else home / "keys" / "audit-log.pem"


def witness_folder() -> Path | None:
    """``ASSAY_WITNESS``: a folder the database's owner cannot rewrite, where every signed checkpoint is published
    after its change commits and against whose newest checkpoint the log is checked before each write."""
    folder = os.environ.get("ASSAY_WITNESS")
    return Path(folder).expanduser() if folder else None


def log_signer(home: Path, *, signed_before: bool = False) -> NoteSigner:
    """The checkpoint signer, creating the key pair on first use (``audit-log.pem`` and ``audit-log.pub.pem``).

    ``signed_before``: the log already holds checkpoints, so a missing key is lost, not new. Then nothing is
    created: a silently replaced key would make every earlier checkpoint read as forged."""
    path = key_path(home)
    if not path.is_file():
        if signed_before:
            raise InputError(f"the audit-log key {path} is missing, but the log holds checkpoints signed with it: "
                             "restore the key (or set ASSAY_LOG_KEY to where it is); a new key is not made")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        try:
            save_private_key(path, key)
        except AuditError:
            if not path.is_file():  # not "another process made it first": a real failure
                raise
        else:
            path.with_name(path.stem + ".pub.pem").write_bytes(public_key_pem(key))
    return NoteSigner(LOG_KEY_NAME, load_private_key(path))


def log_verifier(home: Path, public_key: Path | None = None) -> NoteVerifier:
    """The verifier for checkpoints: ``public_key`` (PEM) when given, else the registry's own key."""
    if public_key is not None:
        try:
            pem = read_bounded(public_key, MAX_NOTE_BYTES, "max_note_bytes", "public key")
            return NoteVerifier(LOG_KEY_NAME, load_public_key_pem(pem))
        except OSError as exc:
            raise InputError(f"cannot read {public_key}: {exc.strerror or exc}") from None
    path = key_path(home)
    if not path.is_file():
        raise InputError(f"no audit-log key at {path}: nothing has been logged yet")
    return NoteVerifier(LOG_KEY_NAME, load_private_key(path).public_key())
