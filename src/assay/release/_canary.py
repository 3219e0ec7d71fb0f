"""Aborting a canary: all traffic back to the active release, on the record.

An abort admits nothing new (the active release passed its gate already), so it needs no gate: it is a
deployment of action ``abort`` whose release is the active one, replacing the canary, written with its audit
entry (``canary-abort``, which the signed per-environment deployment counts include) in one transaction.
"""

from __future__ import annotations

from typing import Any

from assay._text import check_text
from assay.errors import UsageError
from assay.registry import DeploymentRow, Registry, ReleaseRow, must_get, now
from assay.release._evidence import require_intact
from assay.release._reports import _live
from assay.release._service import _env

ABORT = "canary-abort"
"""The audit entry kind of an aborted canary."""


def abort_canary(reg: Registry, env: str, *, reason: str) -> dict[str, Any]:
    """Stop the canary running in ``env``: all traffic goes back to the active release. ``reason`` is recorded."""
    if not reason.strip():
        raise UsageError("aborting a canary needs a reason")
    check_text(reason, "--reason", multiline=True)
    with reg.write() as session:
        environment, _ = _env(reg, session, env)
        active, canary = _live(session, environment, None)
        if canary is None:
            raise UsageError(f"no canary is running in {env}")
        require_intact(reg, session, [environment, canary, *([active] if active else [])], [environment])
        canary_release = must_get(session, ReleaseRow, canary.release_id).name if canary.release_id else None
        active_release = must_get(session, ReleaseRow, active.release_id).name if active and active.release_id \
            else None
        environment.deploy_seq += 1
        row = DeploymentRow(environment_id=environment.id, seq=environment.deploy_seq,
                            release_id=active.release_id if active else None, action="abort",
                            traffic_percent=100 if active else 0, replaces_id=canary.id,
                            gate={"passed": True, "aborted": canary_release, "reason": reason},
                            policy_digest=active.policy_digest if active else "none",
                            evidence_digests=list(active.evidence_digests) if active else [],
                            created_by=reg.actor, created_at=now())
        session.add(row)
        session.flush()
        doc = {"environment": env, "seq": row.seq, "aborted": canary_release, "release": active_release,
               "reason": reason}
        reg.log(session, ABORT, doc)
    return doc
