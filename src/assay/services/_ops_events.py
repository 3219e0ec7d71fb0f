"""Webhook operations (admin): subscribe, list, remove, read the delivery log, redeliver."""

from __future__ import annotations

from dataclasses import dataclass

from assay.services._table import operation
from assay.services.interface import Context, Nothing, Result, Right

_ADMIN = Right("admin")


@dataclass(frozen=True)
class WebhookAdd:
    """``assay webhook add``."""

    url: str
    event: list[str]
    env: str | None = None


@operation("webhook.add", "Subscribe a URL to event types; prints the signing secret once.", WebhookAdd, _ADMIN,
           writes=True)
def webhook_add(ctx: Context, p: WebhookAdd) -> Result:
    """Add a webhook."""
    from assay.events import add_webhook

    doc, secret = add_webhook(ctx.registry(), p.url, tuple(p.event), p.env)
    return Result({"schema": "assay.webhook/1.0", **doc, "secret": secret},
                  f"webhook {doc['id']}: {doc['url']} for {', '.join(doc['events'])}"
                  + (f" in {doc['environment']}" if doc["environment"] else "")
                  + f"\n  signing secret (shown once): {secret}\n")


@operation("webhook.list", "Every webhook subscription (never its secret).", Nothing, _ADMIN)
def webhook_list(ctx: Context, p: Nothing) -> Result:
    """List webhooks."""
    from assay.events import list_webhooks

    rows = list_webhooks(ctx.registry())
    return Result({"schema": "assay.webhooks/1.0", "webhooks": rows},
                  "".join(f"{w['id']:>4}  {w['url']}  {', '.join(w['events'])}  {w['environment'] or 'every env'}"
                          + ("  REMOVED" if w["removed_at"] else "") + "\n" for w in rows) or "no webhooks\n")


@dataclass(frozen=True)
class WebhookRemove:
    """``assay webhook remove``."""

    id: int


@operation("webhook.remove", "Stop a webhook subscription.", WebhookRemove, _ADMIN, writes=True)
def webhook_remove(ctx: Context, p: WebhookRemove) -> Result:
    """Remove a webhook."""
    from assay.events import remove_webhook

    doc = remove_webhook(ctx.registry(), p.id)
    return Result({"schema": "assay.webhook/1.0", **doc}, f"removed webhook {doc['id']} ({doc['url']})\n")


@dataclass(frozen=True)
class Deliveries:
    """``assay webhook deliveries``."""

    webhook: int | None = None
    limit: int = 100


@operation("webhook.deliveries", "The delivery log, newest first.", Deliveries, _ADMIN)
def webhook_deliveries(ctx: Context, p: Deliveries) -> Result:
    """Read the delivery log."""
    from assay.events import deliveries

    rows = deliveries(ctx.registry(), p.webhook, p.limit)
    return Result({"schema": "assay.webhook-deliveries/1.0", "deliveries": rows},
                  "".join(f"{d['at'][:19]}  webhook {d['webhook']}  {d['event']} {d['type']}  attempt {d['attempt']}  "
                          + (f"{d['status']}" if d["status"] is not None else "-")
                          + (f"  {d['error']}" if d["error"] else "") + f"  {d['milliseconds']} ms\n" for d in rows)
                  or "no deliveries\n")


@dataclass(frozen=True)
class Redeliver:
    """``assay webhook redeliver``."""

    event_id: str
    webhook: int | None = None


@operation("webhook.redeliver", "Queue an event again for its subscribers (or one).", Redeliver, _ADMIN, writes=True)
def webhook_redeliver(ctx: Context, p: Redeliver) -> Result:
    """Redeliver an event."""
    from assay.events import redeliver

    doc = redeliver(ctx.registry(), p.event_id, p.webhook)
    return Result({"schema": "assay.webhook-redelivery/1.0", **doc},
                  f"queued {doc['event']} for webhook(s) {', '.join(map(str, doc['webhooks'])) or 'none'}\n")
