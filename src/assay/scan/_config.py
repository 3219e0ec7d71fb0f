"""``ScanConfig``: how a scan judges what it finds, and reading it from ``assay.toml`` or ``[tool.assay.scan]``.

Configuration is looked up in the current directory (or the file ``--config`` names), never in the
folder being scanned: a model repository must not be able to configure its own inspection.
"""

from __future__ import annotations

import os

from assay.errors import ConfigError
from assay.scan._findings import Severity
from assay.scan._limits import ScanLimits
from assay.scan._record import Record


class ScanConfig(Record):
    """How a scan judges what it finds."""

    fail_on: Severity = Severity.HIGH
    strict: bool = False
    allow: frozenset[str] = frozenset()
    limits: ScanLimits = ScanLimits()
    skip_dirs: frozenset[str] = frozenset({".git", ".hg", ".svn", "__pycache__"})
    jobs: int = 0
    """Processes that scan files side by side; 0: one per usable CPU when the scan pays for them
    (``assay.scan._parallel.worker_count``)."""


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
