"""Revoking a release: withdrawn for good (a vulnerability, a licence problem, a bad prompt), on the record.

A revocation is an audit entry (``release-revoked``), never a row: the gates read the entries, each proven to be
in the signed log, so it cannot be undone outside assay. A revoked release passes no gate (the default policy's
``not-revoked`` rule, which cannot be waived) and is never a rollback target, chosen (``--to``) or found ("previous
known-good"). Revoking does not move traffic by itself: roll the environments running it back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assay._text import check_text
from assay.errors import UsageError
from assay.registry import Reader, Registry, Sql, find_release
from assay.release._governance import require_role

REVOKED = "release-revoked"
"""The kind of the audit entry that revokes a release."""


def revoked_releases(reg: Registry, session: Session) -> dict[str, dict[str, Any]]:
    """Release name -> the payload of the entry that revoked it."""
    return {e["payload"]["release"]: e["payload"] for e in reg.entries(session, REVOKED)}


def revoke_release(reg: Registry, release: str, *, reason: str) -> dict[str, Any]:
    """Revoke ``release`` for every environment, for good (the actor needs the approver role). Traffic is not moved:
    ``still_active`` lists where it runs now (active or canary), to roll back."""
    if not reason.strip():
        raise UsageError("a revocation needs a reason")
    check_text(reason, "--reason", multiline=True)
    with reg.write() as session:
        require_role(reg, session, reg.actor, "approver", "revoke releases")
        row = find_release(session, release)
        if row.name in revoked_releases(reg, session):
            raise UsageError(f"{row.name} is revoked already")
        doc = {"release": row.name, "digest": row.digest, "reason": reason}
        reg.log(session, REVOKED, doc)
        live = [d for d in Reader(Sql.of(session)).deployments_of(row.id) if d["state"] != "since replaced"]
    return {**doc, "still_active": live}
