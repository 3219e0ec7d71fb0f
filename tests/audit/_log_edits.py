"""Edits an attacker with write access to the database makes to the log, shared by the audit tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from assay.audit import TreeBuilder


def cut_log(session: Any, keep: int) -> None:
    """Delete every entry from ``keep`` on and put the stored head back where they began, as a forger would: the
    head then hashes to the root the log had at ``keep`` entries."""
    leaves = [bytes.fromhex(h) for (h,) in session.execute(
        text("SELECT leaf_hash FROM audit_entries WHERE idx < :k ORDER BY idx"), {"k": keep})]
    builder = TreeBuilder()
    for leaf in leaves:
        builder.append(leaf, [])
    size, peaks = builder.state()
    session.execute(text("DELETE FROM audit_entries WHERE idx >= :k"), {"k": keep})
    session.execute(text("UPDATE audit_state SET size = :s, peaks = :p"),
                    {"s": size, "p": json.dumps([p.hex() for p in peaks])})
