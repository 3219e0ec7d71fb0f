"""The outermost layer: request-size limits and security headers on every answer. Plain ASGI (no per-request
objects): it runs on every call."""

from __future__ import annotations

import json
from typing import Any

from assay.server.interface import ServerLimits

Scope = dict[str, Any]
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
            (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
            (b"cross-origin-resource-policy", b"same-origin")]
_HSTS = (b"strict-transport-security", b"max-age=31536000")
UPLOADS = "/api/v1/uploads"


class Guard:
    """Wraps the app: a body over ``max_request_bytes`` (uploads: ``max_upload_bytes``) is answered 413 without
    reaching it, and every answer carries the security headers (HSTS when serving TLS)."""

    def __init__(self, app: Any, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits
        self.headers = _HEADERS + ([_HSTS] if limits.tls else [])

    def __getattr__(self, name: str) -> Any:  # app.state, app.openapi() ... of the wrapped app
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_upload_bytes if scope["path"] == UPLOADS else self.limits.max_request_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, self.headers, limit)
            return

        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        if scope["path"] == UPLOADS:  # streamed to disk by the endpoint, which counts as it goes
            await self.app(scope, receive, secured)
            return
        body, more = bytearray(), True  # small by limit: read whole, so a chunked body is bounded too
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _refuse(send, self.headers, limit)
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, secured)


async def _refuse(send: Any, headers: list[tuple[bytes, bytes]], limit: int) -> None:
    body = json.dumps({"error": f"the request body is larger than the server's limit ({limit} bytes)",
                       "exit_code": 2}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})
