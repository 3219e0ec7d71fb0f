"""Events and background work: webhooks on registry and release events (``add_webhook``, ``list_webhooks``,
``remove_webhook``, ``deliveries``, ``redeliver``), delivered through the job queue in the registry's database
(``run_due_jobs``: what each server worker runs in the background)."""

from __future__ import annotations

from assay.events._webhooks import (
    add_webhook,
    deliveries,
    dispatch,
    list_webhooks,
    redeliver,
    remove_webhook,
    run_due_jobs,
)
from assay.events.interface import EVENT_TYPES, TYPES, Event, event_of

__all__ = ["EVENT_TYPES", "TYPES", "Event", "add_webhook", "deliveries", "dispatch", "event_of", "list_webhooks",
           "redeliver", "remove_webhook", "run_due_jobs"]
