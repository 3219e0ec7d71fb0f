"""Webhooks: subscriptions (admin, on the record), events taken from the audit log, deliveries signed the Standard
Webhooks way (the ``standardwebhooks`` library: HMAC-SHA256 over ``id.timestamp.body``, with the id and timestamp in
headers so a receiver refuses replays), retried with backoff through the job queue, every attempt in the delivery
log, and any event redelivered on demand.

Events come from the log, not from the code that acted: ``dispatch`` turns every proven entry after the cursor into
one delivery job per matching subscription, in the transaction that advances the cursor, so an event is neither
lost nor sent twice by two workers, whoever made the change (the server, or a command on its host).
"""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from assay._text import check_text
from assay.errors import UsageError
from assay.events import _queue as queue
from assay.events.interface import TYPES, Event, event_of
from assay.registry import DeliveryRow, EventCursorRow, JobRow, NotFound, Registry, WebhookRow
from assay.release import require_role

TIMEOUT_SECONDS = 10.0
"""A receiver must answer within this many seconds (``ASSAY_WEBHOOK_TIMEOUT``)."""
MAX_WEBHOOKS = 100
"""Subscriptions at most."""
JOB = "webhook"


def add_webhook(reg: Registry, url: str, events: tuple[str, ...], env: str | None = None) -> tuple[dict[str, Any], str]:
    """Subscribe ``url`` to ``events`` (of ``env`` only, when given); returns the subscription and its signing secret
    (``whsec_...``), shown once. Admin."""
    check_text(url, "the webhook URL")
    if not url.startswith(("https://", "http://")) or len(url) > 2000:
        raise UsageError(f"{url!r} is not an http(s) URL")
    unknown = sorted(set(events) - set(TYPES))
    if not events or unknown:
        raise UsageError(f"unknown event type(s) {', '.join(unknown) or '(none given)'}; types: {', '.join(TYPES)}")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "add webhooks")
        live = session.scalars(select(WebhookRow).where(WebhookRow.removed_at.is_(None))).all()
        if len(live) >= MAX_WEBHOOKS:
            raise UsageError(f"at most {MAX_WEBHOOKS} webhooks (max_webhooks)")
        row = WebhookRow(url=url, secret=secret, events=sorted(set(events)), environment=env, created_by=reg.actor,
                         created_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        _start_cursor(reg, session)
        doc = _info(row)
        reg.log(session, "webhook-added", {k: v for k, v in doc.items() if k != "created_at"})
    return doc, secret


def _start_cursor(reg: Registry, session: Session) -> None:
    """Events start with the first subscription: the log before it is history, not news."""
    if session.get(EventCursorRow, 1) is None:
        from sqlalchemy import func

        from assay.registry import AuditEntryRow

        size = session.scalar(select(func.count()).select_from(AuditEntryRow)) or 0
        session.add(EventCursorRow(id=1, next_entry=size + 1))  # the entry this call writes is not news either


def remove_webhook(reg: Registry, webhook_id: int) -> dict[str, Any]:
    """Stop a subscription (admin); its delivery log stays."""
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "remove webhooks")
        row = session.get(WebhookRow, webhook_id)
        if row is None or row.removed_at is not None:
            raise NotFound(f"no webhook {webhook_id} (assay webhook list shows them)")
        row.removed_at = datetime.now(UTC)
        session.flush()
        doc = _info(row)
        reg.log(session, "webhook-removed", {"webhook": webhook_id, "url": row.url})
    return doc


def list_webhooks(reg: Registry) -> list[dict[str, Any]]:
    """Every subscription, never its secret (admin)."""
    with reg.snapshot() as session:
        require_role(reg, session, reg.actor, "admin", "list webhooks")
        return [_info(r) for r in session.scalars(select(WebhookRow).order_by(WebhookRow.id))]


def deliveries(reg: Registry, webhook_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The delivery log, newest first (admin)."""
    with reg.snapshot() as session:
        require_role(reg, session, reg.actor, "admin", "read the delivery log")
        query = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(DeliveryRow.webhook_id == webhook_id)
        return [{"id": d.id, "webhook": d.webhook_id, "event": d.event_id, "type": d.event_type,
                 "attempt": d.attempt, "status": d.status_code, "error": d.error, "at": _iso(d.at),
                 "milliseconds": d.milliseconds} for d in session.scalars(query)]


def redeliver(reg: Registry, event_id: str, webhook_id: int | None = None) -> dict[str, Any]:
    """Queue event ``event_id`` (``evt_N``) again for its subscribers (or one), as a new delivery (admin)."""
    if not event_id.startswith("evt_") or not event_id[4:].isdigit():
        raise UsageError(f"{event_id!r} is not an event id (evt_N, as the delivery log shows)")
    with reg.write() as session:
        require_role(reg, session, reg.actor, "admin", "redeliver events")
        entries, _ = reg.entries_from(session, int(event_id[4:]), [_kind(session, int(event_id[4:]))], limit=1)
        event = event_of(entries[0]) if entries else None
        if event is None:
            raise NotFound(f"no event {event_id}")
        targets = [w for w in _subscribers(session, event) if webhook_id in (None, w.id)]
        for hook in targets:
            queue.enqueue(session, JOB, {"webhook": hook.id, "event": event.to_json(), "redelivery": True})
        doc = {"event": event_id, "webhooks": [w.id for w in targets]}
        reg.log(session, "webhook-redelivered", doc)
    return doc


def _kind(session: Session, index: int) -> str:
    from assay.registry import AuditEntryRow

    row = session.get(AuditEntryRow, index)
    if row is None:
        raise NotFound(f"no event evt_{index}")
    return row.kind


def dispatch(reg: Registry, limit: int = 500) -> int:
    """Turn the proven log entries after the cursor into delivery jobs; returns how many were queued."""
    from assay.events.interface import EVENT_TYPES

    with Session(reg.engine, expire_on_commit=False) as session, session.begin():
        query = select(EventCursorRow).where(EventCursorRow.id == 1)
        if reg.engine.dialect.name == "postgresql":
            query = query.with_for_update()
        cursor = session.scalars(query).first()
        if cursor is None:
            return 0
        entries, following = reg.entries_from(session, cursor.next_entry, EVENT_TYPES, limit)
        queued = 0
        for entry in entries:
            event = event_of(entry)
            for hook in _subscribers(session, event) if event else ():
                queue.enqueue(session, JOB, {"webhook": hook.id, "event": event.to_json()})  # type: ignore[union-attr]
                queued += 1
        cursor.next_entry = following
    return queued


def _subscribers(session: Session, event: Event) -> list[WebhookRow]:
    hooks = session.scalars(select(WebhookRow).where(WebhookRow.removed_at.is_(None))).all()
    return [h for h in hooks if event.type in h.events and h.environment in (None, event.environment)]


def deliver(reg: Registry, job: JobRow, timeout: float = TIMEOUT_SECONDS) -> None:
    """Send one delivery job; RuntimeError (retried by the caller) unless the receiver answered 2xx."""
    payload = job.payload
    with reg.snapshot() as session:
        hook = session.get(WebhookRow, payload["webhook"])
        if hook is None or hook.removed_at is not None:
            return  # removed since: nothing to do
        problems = reg.unsealed(session, [hook])
        hook_id, url, secret = hook.id, hook.url, hook.secret
    event = payload["event"]
    status, error, started = None, None, time.monotonic()
    try:
        if problems:
            raise RuntimeError(f"webhook {hook_id} was changed outside assay; not sent ({problems[0]})")
        body = _json(event)
        sent_at = datetime.now(UTC)
        signature = Webhook(secret).sign(event["id"], sent_at, body)
        headers = {"webhook-id": event["id"], "webhook-timestamp": str(int(sent_at.timestamp())),
                   "webhook-signature": signature, "content-type": "application/json", "user-agent": "assay-webhooks"}
        reply = httpx.post(url, content=body.encode(), headers=headers, timeout=timeout, follow_redirects=False)
        status = reply.status_code
        if not 200 <= status < 300:
            error = f"the receiver answered {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except RuntimeError as exc:
        error = str(exc)
    milliseconds = int((time.monotonic() - started) * 1000)
    with Session(reg.engine) as session, session.begin():
        session.add(DeliveryRow(webhook_id=hook_id, event_id=event["id"], event_type=event["type"],
                                attempt=job.attempts, status_code=status, error=error, at=datetime.now(UTC),
                                milliseconds=milliseconds))
    if error is not None:
        raise RuntimeError(error)


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def _info(row: WebhookRow) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "events": list(row.events), "environment": row.environment,
            "created_by": row.created_by, "created_at": _iso(row.created_at), "removed_at": _iso(row.removed_at)}


def run_due_jobs(reg: Registry, engine: Engine | None = None, limit: int = 50) -> int:
    """Dispatch new events, then do up to ``limit`` due jobs; returns how many jobs were done or retried."""
    dispatch(reg)
    engine = engine or reg.engine
    ran = 0
    while ran < limit:
        with queue.claimed(engine) as job:
            if job is None:
                break
            try:
                if job.kind == JOB:
                    deliver(reg, job)
                queue.done(engine, job)
            except Exception as exc:  # noqa: BLE001 (any failure of one job is that job's: logged on it, retried)
                queue.failed(engine, job, str(exc) or type(exc).__name__)
            ran += 1
    return ran
