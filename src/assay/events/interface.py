"""Events: what happened in the registry, as a webhook receiver sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

EVENT_TYPES: dict[str, str] = {
    "intake": "version.recorded",
    "release-created": "release.created",
    "approval": "approval.created",
    "waiver": "waiver.created",
    "promote": "release.promoted",
    "canary": "release.canary",
    "rollback": "release.rolled_back",
    "canary-abort": "canary.aborted",
    "release-revoked": "release.revoked",
    "promote-refused": "gate.refused",
    "canary-refused": "gate.refused",
    "rollback-refused": "gate.refused",
}
"""Audit entry kind -> event type. An intake is ``version.accepted`` or ``version.rejected`` by its status."""
TYPES = ("version.accepted", "version.rejected", *sorted(set(EVENT_TYPES.values()) - {"version.recorded"}))
"""Every event type a webhook can subscribe to."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event: ``id`` (``evt_<entry index>``, the same for every delivery of it), its type, when, and the data
    (the audit entry's actor, credential and payload, less the seals)."""

    id: str
    type: str
    time: datetime | str
    environment: str | None
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The webhook body."""
        when = self.time.isoformat() if isinstance(self.time, datetime) else self.time
        return {"id": self.id, "type": self.type, "timestamp": when, "data": self.data}


def event_of(entry: dict[str, Any]) -> Event | None:
    """The event an audit entry (index, kind, actor, time, payload) is, or None."""
    kind = entry["kind"]
    if kind not in EVENT_TYPES:
        return None
    payload = {k: v for k, v in entry["payload"].items() if k not in ("records", "blobs")}
    kind_type = EVENT_TYPES[kind]
    if kind == "intake":
        kind_type = "version.accepted" if payload.get("status") == "accepted" else "version.rejected"
    data = {"entry": entry["index"], "kind": kind, "actor": entry["actor"], **payload}
    return Event(f"evt_{entry['index']}", kind_type, entry["time"], payload.get("environment"), data)
