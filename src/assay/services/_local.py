"""The embedded context: this machine's registry (``ASSAY_HOME``, ``ASSAY_DATABASE_URL``), its owner acting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from assay.config import Settings
from assay.identity import Principal
from assay.services.interface import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.registry import Reader, Registry


class LocalContext(Context):
    """Operations on the embedded registry: roles bind where the domain checks them (admin, approver); the one
    person who owns the file acts otherwise freely. Close it when done (``with LocalContext(...) as ctx``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.principal = Principal(settings.actor)
        self._registry: Registry | None = None

    def registry(self) -> Registry:
        """The registry, opened on first use."""
        if self._registry is None:
            from assay.registry import Registry

            self._registry = Registry.open(self.settings)
        return self._registry

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reader]:
        """A DB-API connection of its own, without SQLAlchemy (``registry/_sql.py`` says why)."""
        from assay.registry import Reader, Sql

        with Sql.connect(self.settings.database_url) as sql:
            yield Reader(sql)

    def path(self, value: str | None) -> Path | None:
        """The caller's own path."""
        return None if value is None else Path(value)

    def output(self, value: str) -> Path:
        """The caller's own path."""
        return Path(value)

    def shown(self, value: str) -> str:
        """The path as given."""
        return value

    def __enter__(self) -> LocalContext:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._registry is not None:
            self._registry.close()
