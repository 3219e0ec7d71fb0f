"""The client side of a team server: the same operation, sent to ``ASSAY_URL`` as the holder of ``ASSAY_TOKEN``.

A parameter that names the caller's file or folder (``Operation.uploads``) is packed as a tar stream and uploaded
first; the operation then names the upload. The server answers with the same document, text and exit code the
embedded registry would give (``application/vnd.assay.result+json``), or with one error line and its exit code.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from assay.errors import AssayError, InputError, UsageError
from assay.services.interface import Operation, Result

RESULT_TYPE = "application/vnd.assay.result+json"
"""The media type of a whole Result (document, text, exit code): what the CLI asks the server for."""
DEFAULT_TIMEOUT = 600.0
"""Seconds a call may take (``ASSAY_TIMEOUT``): an intake of a large model is hashed and scanned on the server."""


class RemoteError(AssayError):
    """The server refused or failed the call: its one-line message and exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


class Client:
    """Calls operations on one server. ``with Client(...) as client: client.call(op, params)``."""

    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT, verify: Any = True) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, verify=verify,
                                  headers={"Authorization": f"Bearer {token}", "User-Agent": "assay-cli"})

    @classmethod
    def from_environment(cls, url: str) -> Client:
        """A client for ``url`` with ``ASSAY_TOKEN``, ``ASSAY_TIMEOUT`` and ``ASSAY_CA_BUNDLE`` (a PEM file of the CAs
        that sign the server's certificate)."""
        token = os.environ.get("ASSAY_TOKEN")
        if not token:
            raise UsageError(f"ASSAY_URL is {url} but ASSAY_TOKEN is not set: an admin makes one with assay token "
                             "create")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"ASSAY_URL={url!r} is not an http:// or https:// address")
        try:
            timeout = float(os.environ.get("ASSAY_TIMEOUT") or DEFAULT_TIMEOUT)
        except ValueError:
            raise UsageError("ASSAY_TIMEOUT is not a number of seconds") from None
        bundle = os.environ.get("ASSAY_CA_BUNDLE")
        if bundle:
            import ssl

            try:
                return cls(url, token, timeout=timeout, verify=ssl.create_default_context(cafile=bundle))
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"ASSAY_CA_BUNDLE={bundle}: not a readable PEM file of certificates ({exc})") from None
        return cls(url, token, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def call(self, op: Operation, params: Any) -> Result:
        """Run ``op`` on the server; its Result, or RemoteError with the server's message and exit code."""
        body = {k: _jsonable(v) for k, v in dataclasses.asdict(params).items()}
        for name in op.uploads:
            if body.get(name) is not None:
                body[name] = self.upload(Path(body[name]))
        for name in op.downloads:
            if body.get(name) is not None:
                _check_output(Path(body[name]))
        reply = self._send("POST", op.path, json=body, headers={"Accept": RESULT_TYPE})
        doc = reply.json()
        for name, download_id in (doc.get("downloads") or {}).items():
            self.download(str(download_id), Path(body[name]))
        return Result(doc["doc"], doc["text"], int(doc["exit_code"]))

    def download(self, download_id: str, target: Path) -> None:
        """Fetch a download into ``target``: a file is written whole or not at all; a folder is unpacked into the
        new or empty folder ``target`` with tarfile's ``data`` filter."""
        with tempfile.TemporaryFile() as spool:
            try:
                with self._http.stream("GET", f"/api/v1/downloads/{download_id}") as reply:
                    if reply.status_code >= 400:
                        reply.read()
                        self._raise(reply)
                    kind = reply.headers.get("Assay-Download-Kind")
                    for chunk in reply.iter_bytes():
                        spool.write(chunk)
            except httpx.HTTPError as exc:
                raise UsageError(f"cannot fetch the result from the assay server: {exc}") from None
            spool.seek(0)
            if kind == "folder":
                target.mkdir(parents=True, exist_ok=True)
                with tarfile.open(fileobj=spool, mode="r:") as tar:
                    tar.extractall(target, filter="data")
                return
            partial = target.with_name(f".{target.name}.assay-partial")
            with open(partial, "wb") as out:
                shutil.copyfileobj(spool, out)
            os.replace(partial, target)

    def upload(self, path: Path) -> str:
        """Send the file or folder at ``path`` (as a tar stream) and return the name the server gave it."""
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w|") as tar:
                tar.add(path, arcname=path.name or "upload", recursive=True)
            spool.seek(0)
            reply = self._send("POST", "/api/v1/uploads", content=spool, params={"name": str(path)},
                               headers={"Content-Type": "application/x-tar"})
        return str(reply.json()["upload"])

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            reply = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot reach the assay server at {self._http.base_url}: {exc}") from None
        if reply.status_code >= 400:
            self._raise(reply)
        return reply

    @staticmethod
    def _raise(reply: httpx.Response) -> None:
        try:
            error = reply.json()
            message, code = str(error["error"]), int(error.get("exit_code", 2))
        except (ValueError, KeyError, TypeError):
            message, code = f"the server answered {reply.status_code} {reply.reason_phrase}", 2
        raise RemoteError(message, code)


def _check_output(target: Path) -> None:
    """Before the call: where the result goes must be writable as asked (a folder new or empty, a file's folder
    there), so the server's work is not thrown away at the end."""
    if target.is_dir():
        if any(target.iterdir()):
            raise UsageError(f"{target} is not empty: name a new or empty folder")
    elif not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such folder")
