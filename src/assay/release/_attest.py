"""Approvals and waivers as signed statements: an in-toto Statement about the release (its name and digest) whose
predicate says who approved or waived what, for which environment, proven by which credential, in a DSSE envelope
signed with the registry's key (the audit-log key, which attests the identity the server authenticated). The
envelope is kept in the evidence store and cited by the row and its audit entry, so an exported bundle shows who
approved without trusting the database, and the gate counts an approval or waiver only when its statement verifies
and says what the row says.

By hand: DSSE and in-toto are a few lines of JSON over ``assay.signing.pae``; the libraries that do them bring key
handling of their own that would not reuse the log's key ring.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from assay.audit import NoteVerifier
from assay.registry import Registry, ReleaseRow, audit_log_signer
from assay.signing import PAYLOAD_TYPE, pae

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATES = {"approval": "https://assay.dev/attestation/approval/v1",
              "waiver": "https://assay.dev/attestation/waiver/v1"}
"""The predicate type of each kind of statement."""


def attest(reg: Registry, kind: str, release: ReleaseRow, predicate: dict[str, Any]) -> str:
    """Sign a statement of ``kind`` about ``release`` and keep it; returns its blob digest."""
    statement = {"_type": STATEMENT_TYPE, "predicateType": PREDICATES[kind],
                 "subject": [{"name": release.name, "digest": {"sha256": release.digest.removeprefix("sha256:")}}],
                 "predicate": {**predicate, "credential": reg.identity}}
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":"), default=str).encode()
    signer = audit_log_signer(reg.home)
    envelope = {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": signer.verifier().key_string(),
                                "sig": base64.b64encode(signer.sign(pae(payload))).decode()}]}
    return reg.blobs.put(json.dumps(envelope, sort_keys=True).encode()).digest


def key_ring(reg: Registry, session: Session) -> set[str]:
    """The registry's log keys, current and every one a proven rotation entry names (as key strings)."""
    ring = {audit_log_signer(reg.home).verifier().key_string()}
    for entry in reg.entries(session, "log-key-rotated"):
        ring.update(k for k in (entry["payload"].get("from"), entry["payload"].get("to")) if isinstance(k, str))
    return ring


def statement_problem(reg: Registry, digest: str | None, kind: str, release: ReleaseRow, expected: dict[str, Any],
                      ring: set[str]) -> str | None:
    """Why the statement ``digest`` does not prove the row it is cited by (None: it does): missing, not signed by a
    key of the ring, or saying something else than ``expected``."""
    if digest is None:
        return "has no signed statement"
    try:
        envelope = json.loads(reg.blobs.get_verified(digest))
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = envelope["signatures"]
        good = any(s["keyid"] in ring and NoteVerifier.from_key_string(s["keyid"]).verify(
            pae(payload, envelope["payloadType"]), base64.b64decode(s["sig"], validate=True)) for s in signatures)
        statement = json.loads(payload)
    except Exception as exc:  # noqa: BLE001 (whatever is wrong with a stored statement, it proves nothing)
        return f"has an unreadable statement ({type(exc).__name__})"
    if not good or envelope.get("payloadType") != PAYLOAD_TYPE:
        return "has a statement no key of the registry signed"
    subject = (statement.get("subject") or [{}])[0]
    said = statement.get("predicate") or {}
    matches = (statement.get("predicateType") == PREDICATES[kind] and subject.get("name") == release.name
               and subject.get("digest", {}).get("sha256") == release.digest.removeprefix("sha256:")
               and all(_same(said.get(k), v) for k, v in expected.items()))
    return None if matches else "has a statement that says something else"


def _same(said: Any, value: Any) -> bool:
    if isinstance(value, datetime):
        try:
            return datetime.fromisoformat(str(said)) == value
        except ValueError:
            return False
    return bool(said == value)
