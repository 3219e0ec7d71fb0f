"""Settings: where the registry lives (``ASSAY_HOME``, ``ASSAY_DATABASE_URL``) and who is acting.

The scan's own configuration (flags, ``assay.toml``, ``[tool.assay.scan]``) is the scanner's: ``assay.scan``
(``load_scan_config``, ``find_config_file``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from assay.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the registry lives and who is acting: from flags, then the environment, then defaults."""

    home: Path
    database_url: str
    evidence_dir: Path
    actor: str
    evidence_url: str | None = None
    """``ASSAY_EVIDENCE_URL``: an S3-compatible bucket (``s3://BUCKET/PREFIX``) instead of ``evidence_dir``."""


def load_settings(actor: str | None = None, home: Path | None = None) -> Settings:
    """Settings from ``ASSAY_HOME`` (default ``~/.assay``), ``ASSAY_DATABASE_URL`` (default SQLite in the home)
    and the actor: ``actor`` (the ``--actor`` flag), else ``ASSAY_ACTOR``, else the OS user, in its one spelling
    (``assay._text.identity_name``: ``Alice`` and ``alice`` are one person). Against a server none of these is
    read: the server takes who acts from the credential."""
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
    from assay._text import identity_name

    return Settings(home=root, database_url=url, evidence_dir=root / "evidence", actor=identity_name(who, "the actor"),
                    evidence_url=os.environ.get("ASSAY_EVIDENCE_URL") or None)


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
