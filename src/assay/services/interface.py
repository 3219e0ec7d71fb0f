"""The shape of every operation the CLI, the Python API and the server run: parameters in, a Result out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.identity import Principal
    from assay.registry import Reader, Registry


@dataclass(frozen=True, slots=True)
class Result:
    """What an operation produced: ``doc`` (the ``--format json`` document and the API's JSON body), ``text`` (the
    terminal rendering, also served as text/plain) and the ``exit_code`` (0 ok, 1 policy says no)."""

    doc: dict[str, Any]
    text: str
    exit_code: int = 0
    downloads: dict[str, str] = field(default_factory=dict)
    """On a server: output parameter -> the download that carries what the operation wrote there."""


@dataclass(frozen=True)
class Nothing:
    """The parameters of an operation that takes none."""


@dataclass(frozen=True, slots=True)
class Right:
    """What a caller of a server needs: ``role`` (``viewer``: any role at all), held everywhere or, for a role
    granted per environment, in the environment the parameter ``env`` names."""

    role: str
    env: str | None = None

    def describe(self, params: Any) -> str:
        """``the deployer role for production``: the right named in a 403."""
        where = getattr(params, self.env, None) if self.env else None
        return f"the {self.role} role" + (f" for {where}" if where else "") if self.role != "viewer" else "a role"


@dataclass(frozen=True, slots=True)
class Operation:
    """One thing assay does: ``name`` (``release.create``; served as ``POST /api/v1/release/create``), its
    parameters (a frozen dataclass), the right it needs on a server, and ``run``. ``uploads`` names the parameters
    that are a caller's file or folder: the client sends them to the server first; ``downloads`` those that name
    a file or folder the operation writes for the caller: a server sends it back. ``writes``: it changes the
    registry."""

    name: str
    summary: str
    params: type
    right: Right
    run: Callable[[Context, Any], Result]
    uploads: tuple[str, ...] = ()
    writes: bool = False
    downloads: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The API path."""
        return "/api/v1/" + self.name.replace(".", "/")


class Context(ABC):
    """Where an operation runs: the embedded registry of this machine, or a server's for an authenticated caller."""

    principal: Principal

    @abstractmethod
    def registry(self) -> Registry:
        """The registry, with the principal acting (opened once per context)."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Reader]:
        """The registry's one read path (``Reader``) on one consistent view."""

    @abstractmethod
    def path(self, value: str | None) -> Path | None:
        """The local path a parameter names: the caller's own on this machine; on a server, only an upload."""

    @abstractmethod
    def shown(self, value: str) -> str:
        """How the caller wrote a path parameter (an upload is shown by the path it was sent from)."""

    @abstractmethod
    def output(self, value: str) -> Path:
        """Where to write what the caller asked to have at path ``value`` (on a server: a place it sends back)."""
