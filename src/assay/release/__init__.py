"""Releases, environments, gates (policies), approvals, waivers, promotion and rollback.

Public surface: ``create_release``, ``gate_check``, ``approve``, ``waive``, ``promote`` (the service every front
end calls), ``rollback``, ``status``, ``history``, and the policy names ``load_policy``, ``evaluate``,
``render_text``. Policy language details live in ``assay.release.policy``.
"""

from __future__ import annotations

from assay.release._rollback import history, rollback, status
from assay.release._service import approve, create_release, gate_check, promote, waive
from assay.release.policy import evaluate, load_policy, render_text

__all__ = ["approve", "create_release", "evaluate", "gate_check", "history", "load_policy", "promote",
           "render_text", "rollback", "status", "waive"]
