"""The job queue, in the registry's own database: a row per job, taken by one worker at a time under a lease, retried
with exponential backoff. A worker that dies mid-job loses nothing: its lease runs out and another takes the job.

On PostgreSQL a worker claims with ``FOR UPDATE SKIP LOCKED``, so N workers never wait on each other's claims; on
SQLite a claim is one IMMEDIATE transaction. By hand rather than a queue library: the job must be written in the
same transaction as what caused it, on whichever of the two databases the registry is, and the libraries that do
that are PostgreSQL-only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from assay.registry import JobRow

LEASE_SECONDS = 120
"""How long a claimed job is a worker's before another may take it."""
MAX_ATTEMPTS = 8
"""A job is given up after this many attempts (``ASSAY_JOB_MAX_ATTEMPTS``)."""
BACKOFF_SECONDS = 5.0
"""The wait after the first failure, doubled after each (``ASSAY_JOB_BACKOFF_SECONDS``): 5 s, 10 s ... ~10 min."""


def _now() -> datetime:
    return datetime.now(UTC)


def _setting(name: str, default: float) -> float:
    text = os.environ.get(name)
    try:
        return float(text) if text else default
    except ValueError:
        return default


def enqueue(session: Session, kind: str, payload: dict[str, Any], *, delay: float = 0.0) -> JobRow:
    """Add a job in the caller's transaction."""
    at = _now()
    job = JobRow(kind=kind, payload=payload, run_at=at + timedelta(seconds=delay), attempts=0, created_at=at)
    session.add(job)
    return job


@contextmanager
def claimed(engine: Engine) -> Iterator[JobRow | None]:
    """The next due job, leased to this worker (None: nothing due). The caller does it, then ``done`` or ``failed``."""
    now = _now()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        query = (select(JobRow).where(JobRow.done_at.is_(None), JobRow.run_at <= now,
                                      or_(JobRow.locked_until.is_(None), JobRow.locked_until < now))
                 .order_by(JobRow.run_at, JobRow.id).limit(1))
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # SQLite: the registry's engine begins IMMEDIATE
        job = session.scalars(query).first()
        if job is not None:
            job.locked_until = now + timedelta(seconds=LEASE_SECONDS)
            job.attempts += 1
    yield job


def done(engine: Engine, job: JobRow) -> None:
    """Mark a job done."""
    with Session(engine) as session, session.begin():
        row = session.get(JobRow, job.id)
        if row is not None:
            row.done_at, row.locked_until, row.last_error = _now(), None, None


def failed(engine: Engine, job: JobRow, error: str) -> bool:
    """Record a failure; the job runs again after the backoff unless out of attempts. True when it will."""
    attempts = int(_setting("ASSAY_JOB_MAX_ATTEMPTS", MAX_ATTEMPTS))
    wait = _setting("ASSAY_JOB_BACKOFF_SECONDS", BACKOFF_SECONDS) * 2 ** (job.attempts - 1)
    with Session(engine) as session, session.begin():
        row = session.get(JobRow, job.id)
        if row is None:
            return False
        row.last_error, row.locked_until = error[:2000], None
        again = row.attempts < attempts
        if again:
            row.run_at = _now() + timedelta(seconds=wait)
        else:
            row.done_at = _now()
        return again
