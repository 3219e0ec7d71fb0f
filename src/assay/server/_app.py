"""The ASGI app: every operation of ``assay.services`` as ``POST /api/v1/<group>/<name>``, uploads, health and who
am I; authentication on every call but health, rights checked before the operation runs, one error shape.

Answers: ``application/json`` is the operation's document (the CLI's ``--format json``), with its exit code in the
``Assay-Exit-Code`` header; ``text/plain`` is its text; ``application/vnd.assay.result+json`` is all three, which
the CLI asks for. An error is ``{"error": LINE, "exit_code": N}`` with the status its kind says (400, 401, 403, 404,
409, 413, 422, 429, 503) and never a traceback (500: "internal error", the traceback in the server's log only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from assay._version import __version__
from assay.config import Settings
from assay.errors import AssayError, Forbidden
from assay.identity import Authenticator, OidcAuthenticator, OidcSettings, Principal, TokenAuthenticator
from assay.registry import Registry
from assay.release import holds, roles
from assay.server._auth import Gatekeeper
from assay.server._context import ServerContext
from assay.server._middleware import Guard
from assay.server._uploads import DownloadStore, UploadStore
from assay.server._worker import JobWorker
from assay.server.interface import ServerLimits
from assay.services import Operation, Result, every

log = logging.getLogger("assay.server")
RESULT_TYPE = "application/vnd.assay.result+json"
IMPLIED = {"auditor": ("admin",), "viewer": ()}  # admin reads what an auditor reads; any role reads as a viewer


class Server:
    """The registry, the authenticators and the uploads one server process shares between its requests."""

    def __init__(self, settings: Settings, limits: ServerLimits, oidc: OidcSettings | None = None) -> None:
        base = Registry.open(settings)
        with base.write():  # SQLite's own check of the file, once, before anyone writes through this process
            pass
        self.registry = base
        self.limits = limits
        authenticators: list[Authenticator] = [TokenAuthenticator(base)]
        if oidc is not None:
            authenticators.append(OidcAuthenticator(oidc))
        self.gate = Gatekeeper(authenticators, limits.max_failed_logins, limits.failed_login_window)
        self._roles: tuple[int, dict[str, set[str]]] | None = None
        self.uploads = UploadStore(settings.home / "uploads", limits.max_upload_bytes, limits.max_upload_files)
        self.downloads = DownloadStore(settings.home / "downloads")

    def authenticate(self, request: Request) -> Principal:
        """The caller of ``request`` (Unauthenticated, TooManyFailures)."""
        address = request.client.host if request.client else "unknown"
        return self.gate.principal(request.headers.get("authorization"), address)

    def granted(self, principal: Principal) -> set[str]:
        """The roles ``principal`` holds now, from the log (replayed again only once the log has grown: every
        grant and revocation appends)."""
        with self.registry.snapshot() as session:
            size = self.registry.log_size(session)
            cached = self._roles
            if cached is None or cached[0] != size:
                cached = self._roles = (size, roles(self.registry, session))
        return cached[1].get(principal.name, set())

    def check_right(self, op: Operation, params: Any, principal: Principal) -> None:
        """Forbidden (403, naming the right) unless ``principal`` may run ``op`` with ``params``."""
        granted = self.granted(principal)
        role, env = op.right.role, getattr(params, op.right.env, None) if op.right.env else None
        if role == "viewer":
            allowed = bool(granted)
        else:
            allowed = holds(granted, role, env) or any(holds(granted, r) for r in IMPLIED.get(role, ()))
        if not allowed:
            raise Forbidden(f"{principal.name} may not {op.name}: it needs {op.right.describe(params)} "
                            f"(holds: {', '.join(sorted(granted)) or 'no role'})")

    def run(self, op: Operation, params: Any, request: Request) -> Result:
        """Authenticate, check the right, run ``op``; delete the uploads it used."""
        principal = self.authenticate(request)
        self.check_right(op, params, principal)
        ctx = ServerContext(self.registry.acting(principal.name, principal.credential), principal, self.uploads,
                            self.downloads)
        done = False
        try:
            result = op.run(ctx, params)
            done = True
        finally:
            for name in ctx.used:
                self.uploads.discard(name)
            if not done:
                for download_id in ctx.outputs.values():
                    self.downloads.discard(download_id)
        carried = {field: ctx.outputs[value] for field in op.downloads
                   if (value := getattr(params, field, None)) in ctx.outputs}
        return dataclasses.replace(result, downloads=carried) if carried else result


def _answer(result: Result, accept: str) -> Response:
    headers = {"Assay-Exit-Code": str(result.exit_code)}
    if RESULT_TYPE in accept:
        return JSONResponse({"doc": result.doc, "text": result.text, "exit_code": result.exit_code,
                             "downloads": result.downloads}, media_type=RESULT_TYPE, headers=headers)
    if "text/plain" in accept and "json" not in accept:
        return PlainTextResponse(result.text, headers=headers)
    return JSONResponse(result.doc, headers=headers)


def error_response(exc: AssayError) -> JSONResponse:
    """The one error shape: the message as one line, and the exit code the CLI would give."""
    line = str(exc).replace("\n", " ")
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else {}
    return JSONResponse({"error": line, "exit_code": exc.exit_code}, status_code=exc.http_status, headers=headers)


def _endpoint(server: Server, op: Operation) -> Callable[..., Response]:
    def endpoint(request: Request, params: Any) -> Response:
        return _answer(server.run(op, params, request), request.headers.get("accept", ""))

    endpoint.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=op.params)])
    endpoint.__name__ = op.name.replace(".", "_").replace("-", "_")
    return endpoint


def create_app(settings: Settings, limits: ServerLimits | None = None, oidc: OidcSettings | None = None) -> FastAPI:
    """The ASGI app serving the registry of ``settings`` (trusting the OIDC issuer ``oidc`` too, when given)."""
    limits = limits or ServerLimits()
    server = Server(settings, limits, oidc)
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = JobWorker(server.registry)
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(title="assay", version=__version__, lifespan=lifespan, openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None, description="The assay team server: every assay operation, as the holder of a "
                  "bearer token.")
    app.state.server = server

    @app.exception_handler(AssayError)
    def assay_error(request: Request, exc: AssayError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"invalid request: {where or 'body'}: {first.get('msg', 'malformed')}",
                             "exit_code": 2}, status_code=400)

    @app.exception_handler(Exception)
    def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"error": "internal error (the server's log has the details)", "exit_code": 2},
                            status_code=500)

    @app.get("/api/v1/health", summary="Liveness: no authentication.")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/v1/whoami", summary="The caller's name, credential and roles.")
    def whoami(request: Request) -> dict[str, Any]:
        principal = server.authenticate(request)
        return {"name": principal.name, "credential": principal.credential,
                "roles": sorted(server.granted(principal))}

    @app.post("/api/v1/uploads", summary="Upload a file or folder as an uncompressed tar stream; returns its name "
              "for one operation.", openapi_extra={"requestBody": {"content": {"application/x-tar": {
                  "schema": {"type": "string", "format": "binary"}}}, "required": True}})
    async def upload(request: Request, name: str = "upload") -> dict[str, str]:
        from starlette.concurrency import run_in_threadpool

        principal = await run_in_threadpool(server.authenticate, request)
        with server.uploads.spool() as spool:  # to disk as it arrives: a model may be larger than memory
            total = 0
            async for chunk in request.stream():
                total += len(chunk)
                server.uploads.check_size(total)
                spool.write(chunk)
            return {"upload": await run_in_threadpool(server.uploads.unpack, spool, principal.name, name)}

    @app.get("/api/v1/downloads/{download_id}", summary="Fetch, once, what an operation wrote for the caller: a "
             "file, or a folder as a tar stream (header Assay-Download-Kind).")
    def download(download_id: str, request: Request) -> Response:
        from starlette.background import BackgroundTask
        from starlette.responses import FileResponse

        principal = server.authenticate(request)
        path, folder = server.downloads.take(download_id, principal.name)
        if folder:  # packed to disk, then streamed: a restored model may be larger than memory
            import tarfile

            packed = path.parent.parent / "folder.tar"
            with tarfile.open(packed, mode="w") as tar:
                tar.add(path, arcname=".")
            path = packed
        return FileResponse(path, media_type="application/x-tar" if folder else "application/octet-stream",
                            headers={"Assay-Download-Kind": "folder" if folder else "file"},
                            background=BackgroundTask(server.downloads.discard, download_id))

    for op in every():
        setattr(op.params, "__pydantic_config__", {"extra": "forbid"})  # noqa: B010 (a misspelt field is an error)
        app.post(op.path, summary=op.summary, name=op.name, response_model=None)(_endpoint(server, op))
    return Guard(app, limits)  # type: ignore[return-value]
