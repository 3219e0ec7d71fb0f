"""What the registry answers with: frozen value types, each with ``to_json()`` for ``--format json``."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assay.errors import AssayError, UsageError

RISK_TIERS = ("low", "medium", "high", "critical")
"""Risk tiers a model may carry."""
DATA_SENSITIVITIES = ("public", "internal", "confidential", "restricted")
"""Sensitivity of the data a model sees in use."""
ARTIFACT_KINDS = ("prompt", "system-prompt", "tool-schema", "params", "policy", "eval-set", "retrieval-config")
"""Kinds of artifacts that change a release's behaviour."""
SCHEMA_REVISION = "0005"
"""The newest migration (Alembic revision) this code reads and writes; older databases are migrated on open."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}")
MAX_NUMBER = 2**63 - 1
"""Version numbers above this cannot be stored (both databases' 64-bit integers): such a ref names nothing."""


class NotFound(AssayError):
    """A name, version or digest the registry does not hold (exit 2: nothing to work on)."""

    http_status = 404


def check_model_attributes(attrs: Mapping[str, str | None]) -> None:
    """UsageError for a risk tier or data sensitivity outside the fixed lists (None: not given)."""
    for key, allowed in (("risk_tier", RISK_TIERS), ("data_sensitivity", DATA_SENSITIVITIES)):
        value = attrs.get(key)
        if value is not None and value not in allowed:
            raise UsageError(f"--{key.replace('_', '-')} must be one of {', '.join(allowed)}")


def check_name(name: str, what: str = "name") -> str:
    """A registry name: letters, digits, ``. _ / + -``, at most 200 characters, no ``@`` (it separates versions)."""
    if not _NAME.fullmatch(name or ""):
        raise UsageError(f"invalid {what} {name!r}: use letters, digits and . _ / + - (at most 200), starting "
                         "with a letter or digit")
    return name


@dataclass(frozen=True)
class Ref:
    """``NAME``, ``NAME@N``, ``NAME@latest`` or ``NAME@[sha256:]HEXPREFIX``, parsed (``refs.parse_ref``): at most
    one selector is set."""

    name: str
    number: int | None = None  # -1 for a number beyond MAX_NUMBER: it names nothing
    prefix: str | None = None  # "sha256:<8 to 64 lower-case hex digits>"
    latest: bool = False

    @property
    def bare(self) -> bool:
        """True for a name without a selector."""
        return self.number is None and self.prefix is None and not self.latest


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


class _Json:
    def to_json(self) -> dict[str, Any]:
        """JSON form: the dataclass fields, dates in ISO 8601."""
        return _jsonable(self)


class _Numbered(_Json):
    """A registered thing with a name and a number (datasets, artifacts): ``ref`` is ``name@number``."""

    name: str
    number: int

    @property
    def ref(self) -> str:
        """``name@number``."""
        return f"{self.name}@{self.number}"


@dataclass(frozen=True)
class EvidenceInfo(_Json):
    """A cited evidence blob."""

    kind: str
    name: str
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class LineageLink(_Json):
    """One edge: ``name`` (a registered ``model@N``, a dataset ``name@N`` or an outside name) and how it relates."""

    kind: str          # model | dataset
    name: str
    relation: str
    registered: bool
    source: str


@dataclass(frozen=True)
class VersionInfo(_Json):
    """Everything known about one model version."""

    model: str
    number: int
    identity: str
    status: str
    status_reasons: tuple[str, ...]
    owner: str | None
    risk_tier: str | None
    intended_use: str | None
    data_sensitivity: str | None
    source_url: str | None
    publisher: str | None
    revision: str | None
    formats: tuple[str, ...]
    file_count: int
    total_bytes: int
    license_expression: str | None
    license_class: str
    license_obligations: tuple[str, ...]
    signature_status: str
    signer: str | None
    scan_verdict: str
    scan_counts: dict[str, int]
    card: dict[str, Any]
    missing: tuple[str, ...]
    created_by: str
    created_at: datetime
    evidence: tuple[EvidenceInfo, ...] = ()
    parents: tuple[LineageLink, ...] = ()

    @property
    def ref(self) -> str:
        """``name@number``."""
        return f"{self.model}@{self.number}"


@dataclass(frozen=True)
class ModelSummary(_Json):
    """A row of ``assay models``: a model with its latest version."""

    name: str
    owner: str | None
    risk_tier: str | None
    versions: int
    latest: int | None
    latest_identity: str | None
    status: str | None
    license_class: str | None
    scan_verdict: str | None
    signature_status: str | None


@dataclass(frozen=True)
class LineageTree(_Json):
    """``assay lineage``: where a version comes from (up) and what was made from it (down)."""

    version: str
    identity: str
    up: tuple[LineageLink, ...]
    datasets: tuple[LineageLink, ...]
    down: tuple[LineageLink, ...]
    up_paths: tuple[tuple[str, ...], ...] = ()  # each chain of registered ancestors, nearest first


@dataclass(frozen=True)
class WhereHit(_Json):
    """One place a digest or version appears: a version containing a file, a descendant, an artifact..."""

    kind: str          # version | descendant | dataset | artifact | release | deployment | evidence
    ref: str
    relation: str      # "identity", "contains <path>", "<relation> of", "cites as <kind>" ...


@dataclass(frozen=True)
class DatasetInfo(_Numbered):
    """A registered dataset version."""

    name: str
    number: int
    identity: str
    file_count: int
    total_bytes: int
    source_url: str | None
    license: str | None
    consent: str | None
    retention_days: int | None
    pii: bool | None
    created_by: str
    created_at: datetime
    created: bool = True


@dataclass(frozen=True)
class ArtifactInfo(_Numbered):
    """A registered, content-addressed artifact."""

    name: str
    number: int
    kind: str
    digest: str
    media_type: str
    size: int
    created_by: str
    created_at: datetime
    created: bool = True


@dataclass(frozen=True)
class DoctorProblem(_Json):
    """A disagreement between the database and the evidence store (``digest`` names the blob), or a registry row
    that no longer matches the audit entry that wrote it (``digest`` is None; the message names the row)."""

    kind: str     # missing | altered | orphan | leftover | record-unlogged | record-altered | record-deleted | record-stale
    digest: str | None
    message: str
    cited_by: tuple[str, ...] = field(default=())
