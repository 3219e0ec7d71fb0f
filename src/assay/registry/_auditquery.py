"""``audit log``: the entries an incident asks about (by kind, actor, environment, release, time), newest last,
each proven to be in the signed log before it is shown."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.registry._auditread import LogTampered, verified_entries
from assay.registry._schema import AuditEntryRow

DEFAULT_LOG_LIMIT = 200
"""``audit log`` shows at most this many entries (the newest that match) unless told otherwise."""
_BATCH = 2000


def _matches(entry: dict[str, Any], actor: str | None, env: str | None, release: str | None,
             since: datetime | None, until: datetime | None) -> bool:
    found = entry.get("payload")
    payload: dict[str, Any] = found if isinstance(found, dict) else {}
    if actor is not None and entry.get("actor") != actor:
        return False
    if env is not None and payload.get("environment") != env and env not in (payload.get("environments") or ()):
        return False
    if release is not None and payload.get("release") != release:
        return False
    if since is not None or until is not None:
        try:
            when = datetime.fromisoformat(str(entry.get("time")))
        except ValueError:
            return False
        if (since is not None and when < since) or (until is not None and when > until):
            return False
    return True


def audit_log(session: Session, home: Path, *, kinds: tuple[str, ...] = (), actor: str | None = None,
              env: str | None = None, release: str | None = None, since: datetime | None = None,
              until: datetime | None = None, limit: int = DEFAULT_LOG_LIMIT) -> tuple[list[dict[str, Any]], bool]:
    """The newest ``limit`` entries (0: all) that match every filter given, oldest first, each proven to be in the
    newest signed checkpoint (LogTampered otherwise); and whether older matching entries were left out.

    Entries are read newest first in batches (by ``kind`` through its index when kinds are given) and parsed to
    filter, so the cost grows with how far back the matches lie, not with the log."""
    query = select(AuditEntryRow.idx, AuditEntryRow.body).order_by(AuditEntryRow.idx.desc()).limit(_BATCH)
    if kinds:
        query = query.where(AuditEntryRow.kind.in_(kinds))
    found: list[int] = []
    more = False
    last: int | None = None
    while not more:
        rows = session.execute(query if last is None else query.where(AuditEntryRow.idx < last)).all()
        if not rows:
            break
        for idx, body in rows:
            try:
                entry = json.loads(body)
            except ValueError:
                entry = {}
            if isinstance(entry, dict) and _matches(entry, actor, env, release, since, until):
                if limit and len(found) == limit:
                    more = True
                    break
                found.append(int(idx))
        last = int(rows[-1][0])
    bodies, problems = verified_entries(session, home, found)
    if problems:
        raise LogTampered(f"the audit log was changed outside assay: {problems[0]} (run assay audit verify)")
    return [bodies[i] for i in sorted(bodies)], more
