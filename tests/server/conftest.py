"""A real ``assay serve`` in a child process over a real socket, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATABASES, _fresh_database
from tests.fixtures.cli import ASSAY

FAST_JOBS = {"ASSAY_JOB_POLL_SECONDS": "0.1", "ASSAY_JOB_BACKOFF_SECONDS": "0.2", "ASSAY_JOB_MAX_ATTEMPTS": "4"}
"""Background work at test speed: webhook retries after 0.2 s, 0.4 s, 0.8 s."""


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TeamServer:
    """One running server: its address, its registry settings and its first admin token."""

    url: str
    env: dict[str, str]
    admin: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def cli(self, token: str | None, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``assay ARGS`` against the server as the holder of ``token``."""
        env = {**os.environ, **self.env, "ASSAY_URL": self.url, **extra}
        env.pop("ASSAY_TOKEN", None)
        if token is not None:
            env["ASSAY_TOKEN"] = token
        return subprocess.run([*ASSAY, *args], capture_output=True, text=True, env=env, timeout=300)

    def local(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``assay ARGS`` on the same registry directly (no server), as its owner."""
        env = {**os.environ, **self.env, **extra}
        env.pop("ASSAY_URL", None)
        return subprocess.run([*ASSAY, *args], capture_output=True, text=True, env=env, timeout=300)

    def api(self, token: str | None, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """POST ``body`` (JSON) to ``path`` as the holder of ``token``."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.post(self.url + path, json={} if body is None else body, headers=headers, timeout=120, **kwargs)

    def token(self, name: str, role: str, env: str | None = None) -> str:
        """A token for ``name`` holding ``role`` (made once per server)."""
        key = f"{name}:{role}:{env}"
        if key not in self.tokens:
            result = self.cli(self.admin, "token", "create", "--name", name, "--role", role,
                              *(["--env", env] if env else []), "-f", "json")
            assert result.returncode == 0, result.stderr
            import json

            self.tokens[key] = json.loads(result.stdout)["token"]
        return self.tokens[key]


def start(env: dict[str, str], *extra: str, init: bool = True) -> tuple[subprocess.Popen[str], str, str | None]:
    """Start ``assay serve`` and wait until it answers; (process, url, admin token or None). Its output goes to
    ``serve-PORT/stdout`` and ``stderr`` beside ``ASSAY_HOME`` (a pipe nobody drains would block the server once
    its access log filled it)."""
    port = free_port()
    args = [*ASSAY, "serve", "--port", str(port), *(["--init", "--name", "root"] if init else []), *extra]
    logs = Path(env["ASSAY_HOME"]).parent / f"serve-{port}"
    logs.mkdir(parents=True)
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        process = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=err, text=True)
    scheme = "https" if "--tls-cert" in extra else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    import ssl

    verify = ssl.create_default_context(cafile=env["ASSAY_CA_BUNDLE"]) if "ASSAY_CA_BUNDLE" in env else True
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v1/health", timeout=2, verify=verify).status_code == 200:
                token = None
                if init:
                    found = re.search(r"assay_[A-Za-z0-9_-]+", (logs / "stdout").read_text())
                    assert found, f"no admin token printed: {(logs / 'stderr').read_text()}"
                    token = found.group()
                return process, url, token
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"assay serve exited: {(logs / 'stderr').read_text()}")
        time.sleep(0.2)
    process.kill()
    raise AssertionError("assay serve did not answer within 60 s")


def stop(process: subprocess.Popen[str]) -> None:
    """Stop a server and reap it."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module", params=DATABASES)
def team_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """A server on a fresh registry (SQLite, then PostgreSQL), shared by the tests of one module."""
    folder = tmp_path_factory.mktemp("server")
    for url in _fresh_database(request.param, folder):
        env = {"ASSAY_HOME": str(folder / "home"), "ASSAY_DATABASE_URL": url, "ASSAY_ACTOR": "root",
               "ASSAY_MAX_FAILED_LOGINS": "1000", **FAST_JOBS}
        process, address, token = start(env)
        assert token is not None
        server = TeamServer(address, env, token, [process])
        try:
            yield server
        finally:
            for p in server.processes:
                stop(p)


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every request; answers ``failures`` 500s before a 200."""

    url: str
    received: list[tuple[dict[str, str], bytes]]
    failures: int = 0

    def wait_for(self, count: int, seconds: float = 30) -> list[tuple[dict[str, str], bytes]]:
        """The requests once there are at least ``count`` (or fail after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries after {seconds} s"
            time.sleep(0.05)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server taking webhook deliveries."""
    import http.server
    import threading

    box = Receiver("", [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            box.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            failing = box.failures > 0
            box.failures -= 1 if failing else 0
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    box.url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield box
    finally:
        httpd.shutdown()
