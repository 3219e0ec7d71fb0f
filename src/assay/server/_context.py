"""An operation's context on the server: the shared registry with the authenticated caller acting, and paths only
from that caller's uploads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from assay.identity import Principal
from assay.registry import Reader, Registry, Sql
from assay.server._uploads import DownloadStore, UploadStore
from assay.services import Context


class ServerContext(Context):
    """What ``Operation.run`` gets on the server."""

    def __init__(self, registry: Registry, principal: Principal, uploads: UploadStore, downloads: DownloadStore
                 ) -> None:
        self.principal = principal
        self._registry = registry
        self._uploads = uploads
        self._downloads = downloads
        self._shown: dict[str, str] = {}
        self.used: list[str] = []
        self.outputs: dict[str, str] = {}  # the caller's output path -> the download carrying it

    def registry(self) -> Registry:
        """The server's registry with the caller acting (and their credential on every audit entry)."""
        return self._registry

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reader]:
        """The one read path on a pooled connection, one consistent view."""
        with self._registry.snapshot() as session:
            yield Reader(Sql.of(session))

    def path(self, value: str | None) -> Path | None:
        """The unpacked upload ``value`` names; a server never reads a path of its own for a caller."""
        if value is None:
            return None
        path, shown = self._uploads.resolve(value, self.principal.name)
        self._shown[value] = shown
        self.used.append(value)
        return path

    def output(self, value: str) -> Path:
        """A place in the downloads the caller fetches afterwards, named like ``value``'s last part."""
        download_id, path = self._downloads.place(self.principal.name, value)
        self.outputs[value] = download_id
        return path

    def shown(self, value: str) -> str:
        """The path the caller sent the upload from."""
        return self._shown.get(value, value)
