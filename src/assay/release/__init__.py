"""Releases, environments, gates (policies), approvals, waivers, promotion and rollback.

Public surface: ``create_release``, ``gate_check``, ``approve``, ``waive``, ``promote`` (the service every front
end calls), ``rollback``, ``status``, ``history``; what the gates obey, registered by admins on the record:
``grant_role``, ``revoke_role``, ``list_roles``, ``set_environments``, ``set_policy``; ``revoke_release``
(withdrawn for good: no gate passes it, no rollback returns to it); and the policy names
``load_policy``, ``evaluate``, ``render_text``. Policy language details live in ``assay.release.policy``.
"""

from __future__ import annotations

from assay.release._canary import abort_canary
from assay.release._governance import (
    ROLES,
    SCOPED_ROLES,
    change_role_in,
    grant_role,
    holds,
    list_roles,
    require_role,
    revoke_role,
    roles,
    rotate_log_key,
    seal_unsealed_rows,
    set_environments,
    set_policy,
)
from assay.release._judge import evidence_documents, judge
from assay.release._reports import approvals, history, release_report, status, waivers
from assay.release._revocation import revoke_release
from assay.release._rollback import rollback
from assay.release._service import approve, create_release, gate_check, promote, waive
from assay.release._trust import add_trusted_key, list_trusted_keys, remove_trusted_key
from assay.release.policy import evaluate, load_policy, render_text

__all__ = ["add_trusted_key", "list_trusted_keys", "remove_trusted_key", "ROLES", "SCOPED_ROLES", "change_role_in", "holds", "require_role", "roles", "abort_canary", "evidence_documents", "judge", "approvals", "approve", "release_report", "waivers", "create_release", "evaluate", "gate_check", "grant_role", "history", "load_policy",
           "promote", "render_text", "revoke_release", "revoke_role", "rotate_log_key", "seal_unsealed_rows", "list_roles", "rollback", "set_environments", "set_policy",
           "status", "waive"]
