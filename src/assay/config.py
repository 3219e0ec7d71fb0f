"""Settings: the scan configuration from flags, ``assay.toml`` or ``[tool.assay]`` in pyproject.toml.

Configuration is looked up in the current directory (or the file ``--config`` names), never in the
folder being scanned: a model repository must not be able to configure its own inspection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assay.errors import ConfigError
from assay.scan.findings import Severity
from assay.scan.limits import ScanLimits


@dataclass(frozen=True)
class ScanConfig:
    """How a scan judges what it finds."""

    fail_on: Severity = Severity.HIGH
    strict: bool = False
    allow: frozenset[str] = field(default_factory=frozenset)
    limits: ScanLimits = field(default_factory=ScanLimits)
    skip_dirs: frozenset[str] = frozenset({".git", ".hg", ".svn", "__pycache__"})


_KEYS = {"fail-on", "fail_on", "strict", "allow", "limits", "skip-dirs", "skip_dirs"}


def _scan_table(path: Path) -> dict[str, object]:
    import tomllib  # only when a config file exists: start-up time matters

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("assay", {}).get("scan", {})
    else:
        table = data.get("scan", data.get("tool", {}).get("assay", {}).get("scan", {}))
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: the scan settings must be a table")
    return table


def find_config_file(cwd: Path | None = None) -> Path | None:
    """``assay.toml`` in the working directory, else a pyproject.toml there with ``[tool.assay]``."""
    here = cwd or Path.cwd()
    candidate = here / "assay.toml"
    if candidate.is_file():
        return candidate
    candidate = here / "pyproject.toml"
    if candidate.is_file():
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if "tool.assay" not in text:  # most projects: no need to parse TOML at start-up
            return None
        import tomllib

        try:
            if "assay" in tomllib.loads(text).get("tool", {}):
                return candidate
        except tomllib.TOMLDecodeError:
            return None
    return None


def load_scan_config(path: Path | None) -> ScanConfig:
    """Read a ScanConfig from a config file (None: defaults). Raise ConfigError with file and reason."""
    if path is None:
        return ScanConfig()
    table = _scan_table(path)
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown scan setting(s): {', '.join(sorted(unknown))}")
    config = ScanConfig()
    try:
        fail_on = table.get("fail-on", table.get("fail_on"))
        if fail_on is not None:
            config = ScanConfig(Severity.parse(str(fail_on)), config.strict, config.allow, config.limits)
        strict = table.get("strict", config.strict)
        if not isinstance(strict, bool):
            raise ValueError("strict must be true or false")
        allow = table.get("allow", [])
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise ValueError("allow must be a list of MODULE.NAME strings")
        limits_table = table.get("limits", {})
        if not isinstance(limits_table, dict):
            raise ValueError("limits must be a table")
        skip = table.get("skip-dirs", table.get("skip_dirs", sorted(config.skip_dirs)))
        if not isinstance(skip, list):
            raise ValueError("skip-dirs must be a list of folder names")
        return ScanConfig(
            fail_on=config.fail_on,
            strict=strict,
            allow=frozenset(a.strip() for a in allow),
            limits=config.limits.with_values(limits_table),
            skip_dirs=frozenset(str(s) for s in skip),
        )
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    """Where the registry lives and who is acting: from flags, then the environment, then defaults."""

    home: Path
    database_url: str
    evidence_dir: Path
    actor: str


def load_settings(actor: str | None = None, home: Path | None = None) -> Settings:
    """Settings from ``ASSAY_HOME`` (default ``~/.assay``), ``ASSAY_DATABASE_URL`` (default SQLite in the home)
    and the actor: ``actor`` (the ``--actor`` flag), else ``ASSAY_ACTOR``, else the OS user."""
    import getpass
    import os

    root = Path(home or os.environ.get("ASSAY_HOME") or Path.home() / ".assay").expanduser()
    url = os.environ.get("ASSAY_DATABASE_URL") or f"sqlite:///{root / 'registry.db'}"
    who = actor or os.environ.get("ASSAY_ACTOR")
    if not who:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers): still someone
            who = f"uid:{os.getuid()}"
    if not who.strip() or len(who) > 200:
        raise ConfigError("the actor must be a non-empty name of at most 200 characters")
    return Settings(home=root, database_url=url, evidence_dir=root / "evidence", actor=who.strip())


def postgres_url(url: str, scheme: str = "postgresql") -> str:
    """``url`` with its scheme replaced: ``postgresql://``, ``postgresql+psycopg://`` and ``postgresql+psycopg2://``
    all name the same database, reached with psycopg2 (``scheme``: what SQLAlchemy or libpq expects)."""
    import re

    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", f"{scheme}://", url)


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///PATH[?options]`` URL; None for an in-memory database (``sqlite://``,
    ``sqlite:///:memory:``)."""
    path = url.partition("?")[0][len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    return path if path and path != ":memory:" else None
