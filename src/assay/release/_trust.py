"""The signers the team trusts, on the record: ``assay trust add KEY.pub.pem --name team`` (admin) keeps the PEM as
evidence and writes a ``trust-added`` entry; ``trust remove`` writes ``trust-removed``. The gate's
``signature-trusted`` rule reads this list (replayed from proven entries, each PEM re-hashed), so every server
worker and every client sees the same trust, and adding trust leaves a record. PEM files in ``ASSAY_HOME/trust/``
are still read too: the host's own trust, for a registry used on one machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from assay._files import read_bounded
from assay.errors import InputError, UsageError
from assay.registry import NotFound, Registry, check_name
from assay.release._governance import require_role

MAX_KEY_BYTES = 64 << 10
"""A trusted key or CA file larger than this is refused."""


def add_trusted_key(reg: Registry, path: Path, name: str) -> dict[str, Any]:
    """Trust the public key or CA certificates at ``path`` under ``name`` (admin)."""
    check_name(name, "trust name")
    pem = read_bounded(path, MAX_KEY_BYTES, "max_key_bytes", "trusted key").strip()
    _check_pem(pem, path)
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "add trusted keys")
        if name in registered_trust(reg, session):
            raise UsageError(f"{name!r} is trusted already (assay trust remove {name} first to replace it)")
        blob = reg.blobs.put(pem)
        doc = {"name": name, "digest": blob.digest}
        reg.log(session, "trust-added", {**doc, "blobs": [blob.digest]})
    return doc


def remove_trusted_key(reg: Registry, name: str) -> dict[str, Any]:
    """Stop trusting ``name`` (admin)."""
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "remove trusted keys")
        if name not in registered_trust(reg, session):
            raise NotFound(f"nothing is trusted as {name!r} (assay trust list)")
        doc = {"name": name}
        reg.log(session, "trust-removed", doc)
    return doc


def list_trusted_keys(reg: Registry) -> list[dict[str, Any]]:
    """What is trusted on the record: name and digest."""
    with reg.snapshot() as session:
        return [{"name": n, "digest": d} for n, d in sorted(_replayed(reg, session).items())]


def _replayed(reg: Registry, session: Session) -> dict[str, str]:
    names: dict[str, str] = {}
    for entry in reg.entries(session, "trust-added", "trust-removed"):
        payload = entry["payload"]
        if entry["kind"] == "trust-added":
            names[payload["name"]] = payload["digest"]
        else:
            names.pop(payload["name"], None)
    return names


def registered_trust(reg: Registry, session: Session) -> dict[str, bytes]:
    """Name -> PEM of everything trusted on the record; a PEM missing or altered in the store trusts nothing."""
    found = {}
    for name, digest in _replayed(reg, session).items():
        try:
            found[name] = reg.blobs.get_verified(digest).strip()
        except InputError:
            continue  # fail closed: an altered key vouches for no one
    return found


def _check_pem(pem: bytes, path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        load_pem_public_key(pem)
        return
    except ValueError:
        pass
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise UsageError(f"{path}: not a PEM public key or PEM certificates") from None
