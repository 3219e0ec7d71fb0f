"""The background worker of each server process: turns new log entries into webhook deliveries and does the due jobs
of the queue. The work lives in the database (``assay.events``), so a worker that dies loses nothing: another
process takes its jobs when their lease runs out."""

from __future__ import annotations

import logging
import os
import threading

from assay.events import run_due_jobs
from assay.registry import Registry

log = logging.getLogger("assay.server")
POLL_SECONDS = 1.0
"""How often an idle worker looks for work (``ASSAY_JOB_POLL_SECONDS``)."""


class JobWorker(threading.Thread):
    """Polls the queue until stopped."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(name="assay-jobs", daemon=True)
        self.registry = registry
        self.stopping = threading.Event()
        try:
            self.poll = float(os.environ.get("ASSAY_JOB_POLL_SECONDS") or POLL_SECONDS)
        except ValueError:
            self.poll = POLL_SECONDS

    def run(self) -> None:
        """Work until ``stop``."""
        while not self.stopping.wait(self.poll):
            try:
                while run_due_jobs(self.registry):
                    if self.stopping.is_set():
                        return
            except Exception:  # a bad job or a database hiccup must not end the worker: logged, tried again
                log.exception("background jobs failed; trying again")

    def stop(self) -> None:
        """Stop after the job in hand."""
        self.stopping.set()
        self.join(timeout=30)
