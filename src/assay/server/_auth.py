"""Who is calling: the bearer credential checked by the identity domain, with failed attempts rate-limited per
address. Nothing here ever writes a credential to a log or a response."""

from __future__ import annotations

import threading
import time
from collections import deque

from assay.errors import AssayError, Unauthenticated
from assay.identity import Authenticator, Principal


class TooManyFailures(AssayError):
    """Too many failed logins from one address: refused for a while without checking (HTTP 429)."""

    http_status = 429


class Gatekeeper:
    """Authenticates requests with the first authenticator that accepts the credential's form."""

    def __init__(self, authenticators: list[Authenticator], max_failures: int, window: int) -> None:
        self._authenticators = authenticators
        self._max, self._window = max_failures, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def principal(self, authorization: str | None, address: str) -> Principal:
        """The principal of an ``Authorization: Bearer ...`` header; Unauthenticated or TooManyFailures."""
        self._refuse_if_blocked(address)
        scheme, _, bearer = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise Unauthenticated("authentication required: send Authorization: Bearer TOKEN (assay token create)")
        bearer = bearer.strip()
        for authenticator in self._authenticators:
            if authenticator.accepts(bearer):
                try:
                    return authenticator.authenticate(bearer)
                except Unauthenticated:
                    self._fail(address)
                    raise
        self._fail(address)
        raise Unauthenticated("unknown credential")

    def _refuse_if_blocked(self, address: str) -> None:
        with self._lock:
            recent = self._recent(address)
            if len(recent) >= self._max:
                wait = int(recent[0] + self._window - time.monotonic()) + 1
                raise TooManyFailures(f"too many failed logins from {address}; try again in {wait} s")

    def _fail(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(time.monotonic())

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.setdefault(address, deque())
        while recent and recent[0] < time.monotonic() - self._window:
            recent.popleft()
        return recent
