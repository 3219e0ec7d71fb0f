"""Settings: the scan configuration from flags, ``assay.toml`` or ``[tool.assay]`` in pyproject.toml.

Configuration is looked up in the current directory (or the file ``--config`` names), never in the
folder being scanned: a model repository must not be able to configure its own inspection. The value type,
``ScanConfig``, belongs to the scanner (``assay.scan``); this module reads it from files and depends on the
scanner, never the other way round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from assay.errors import ConfigError
from assay.scan import ScanConfig, Severity

TYPE_CHECKING = False  # pathlib costs milliseconds of start-up; the scan's paths are strings
if TYPE_CHECKING:
    from pathlib import Path


_KEYS = {"fail-on", "fail_on", "strict", "allow", "limits", "skip-dirs", "skip_dirs", "jobs"}


def _scan_table(path: str | os.PathLike[str]) -> dict[str, object]:
    import tomllib  # only when a config file exists: start-up time matters

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = tomllib.loads(handle.read())
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if os.path.basename(path) == "pyproject.toml":
        table = data.get("tool", {}).get("assay", {}).get("scan", {})
    else:
        table = data.get("scan", data.get("tool", {}).get("assay", {}).get("scan", {}))
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: the scan settings must be a table")
    return table


def find_config_file(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """``assay.toml`` in the working directory, else a pyproject.toml there with ``[tool.assay]``."""
    here = os.fspath(cwd) if cwd is not None else os.getcwd()
    candidate = os.path.join(here, "assay.toml")
    if os.path.isfile(candidate):
        return candidate
    candidate = os.path.join(here, "pyproject.toml")
    if os.path.isfile(candidate):
        try:
            with open(candidate, encoding="utf-8") as handle:
                text = handle.read()
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


def load_scan_config(path: str | os.PathLike[str] | None) -> ScanConfig:
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
        jobs = table.get("jobs", config.jobs)
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 0 <= jobs <= 1024:
            raise ValueError("jobs must be a whole number from 0 (one per CPU) to 1024")
        return ScanConfig(
            fail_on=config.fail_on,
            strict=strict,
            allow=frozenset(a.strip() for a in allow),
            limits=config.limits.with_values(limits_table),
            skip_dirs=frozenset(str(s) for s in skip),
            jobs=jobs,
        )
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@dataclass(frozen=True, slots=True)
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
    from pathlib import Path

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
