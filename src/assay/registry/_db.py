"""Opening the registry database: engine set-up per dialect and schema migration on first use.

SQLite write transactions start with ``BEGIN IMMEDIATE`` so that two processes never both read, then both
try to write (SQLite would fail one with "database is locked" mid-transaction instead of making it wait).
PostgreSQL relies on unique constraints and row locks (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, column, create_engine, event, select, table, text
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError, SQLAlchemyError

from assay.config import postgres_url, sqlite_path
from assay.errors import ConfigError, InputError
from assay.registry._interface import SCHEMA_REVISION as HEAD_REVISION

BUSY_TIMEOUT_SECONDS = 60
"""How long a SQLite writer waits for another process's transaction before giving up."""
_MIGRATION_LOCK = 0x61737361  # "assa": the PostgreSQL advisory lock id held while migrating
READ_ONLY = "assay_read_only"
"""Execution option of a read-only snapshot (``Registry.snapshot``): on SQLite its transaction begins deferred."""


def _sqlite_path(url: str) -> Path | None:
    path = sqlite_path(url)
    return Path(path) if path is not None else None


def create_registry_engine(url: str) -> Engine:
    """An engine for ``url`` configured for safe concurrent use by several processes."""
    path = _sqlite_path(url)
    try:
        if url.startswith("sqlite"):
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InputError(f"cannot create the registry folder {path.parent}: {exc.strerror or exc}") from None
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
            _sqlite_events(engine)
        elif url.startswith("postgresql"):
            engine = create_engine(postgres_url(url, "postgresql+psycopg2"), pool_pre_ping=True)
        else:
            raise ConfigError("ASSAY_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
    except ArgumentError as exc:
        raise ConfigError(f"ASSAY_DATABASE_URL is not a database URL: {exc}") from None
    except ImportError as exc:
        raise ConfigError(f"no driver for ASSAY_DATABASE_URL: {exc}") from None
    return engine


def _sqlite_events(engine: Engine) -> None:
    # By hand: SQLAlchemy has no construct for SQLite's PRAGMAs or for BEGIN IMMEDIATE.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        # NORMAL in WAL mode: a commit survives a crash of the process; a power cut may roll back the newest
        # transactions, whole (a change and its audit entry share one), never corrupt the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        # A read-only snapshot begins deferred: in WAL mode it reads a consistent view and never waits for a writer.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def insert_or_ignore(conn: Any, table: Any, values: dict[str, Any], key: str) -> bool:
    """INSERT that does nothing when a row with the same ``key`` exists (both dialects' ON CONFLICT DO NOTHING);
    True when it inserted.

    The dialect module is imported here, not at start-up: each costs tens of milliseconds to import.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        result = conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=[key]))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        result = conn.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=[key]))
    return bool(result.rowcount)


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(select(column("version_num")).select_from(table("alembic_version"))).scalar()
    except (OperationalError, ProgrammingError) as exc:
        if "alembic_version" in str(exc):  # no registry tables yet; any other fault (damaged, unreadable) is raised
            return None
        raise


@contextlib.contextmanager
def _migration_lock(engine: Engine, url: str) -> Iterator[None]:
    """One process migrates at a time: a file lock beside a SQLite file, an advisory lock on PostgreSQL."""
    path = _sqlite_path(url)
    if path is not None:
        lock = path.with_name(path.name + ".migrate.lock")
        try:
            fh = open(lock, "a")  # noqa: SIM115 (closed by the with below)
        except OSError as exc:
            raise InputError(f"cannot create or migrate the registry database {path}: {lock}: "
                             f"{exc.strerror or exc} (is ASSAY_HOME read-only?)") from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield
        return
    if engine.dialect.name == "postgresql":  # by hand: SQLAlchemy has no construct for advisory locks
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
        return
    yield


def ensure_schema(engine: Engine, url: str) -> None:
    """Bring the database to HEAD_REVISION with Alembic (only imported when a migration is due)."""
    revision = _current_revision(engine)
    if revision == HEAD_REVISION:
        return
    if revision is not None and revision.isdigit() and int(revision) > int(HEAD_REVISION):
        raise InputError(f"the registry database is at schema revision {revision}, newer than this assay "
                         f"understands ({HEAD_REVISION}): upgrade assay")
    with _migration_lock(engine, url):
        if _current_revision(engine) == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except CommandError as exc:  # e.g. a revision this assay does not know: written by a newer one
            raise InputError(f"cannot migrate the registry database to schema revision {HEAD_REVISION}: {exc} "
                             "(was it written by a newer assay?)") from None


def open_engine(url: str) -> Engine:
    """Create the engine and migrate the schema; a database that cannot be reached is one clear error."""
    engine = create_registry_engine(url)
    try:
        ensure_schema(engine, url)
    except SQLAlchemyError as exc:
        from assay.registry._faults import database_fault

        where = engine.url.render_as_string(hide_password=True)
        raise InputError(f"cannot open the registry database {where}: {database_fault(exc)}") from None
    return engine


def database_damage(conn: Any) -> str | None:
    """What SQLite's own check (``PRAGMA quick_check``: every page, every index against its table; cost grows with
    the file, about 0.1 s per 80 MB) finds wrong with the file under ``conn``; None when it is sound, or on
    PostgreSQL, which checks its own pages. A damaged file can look fine to every query that misses the zeroed
    page, so writers and ``audit verify`` ask first."""
    if conn.dialect.name != "sqlite":
        return None
    try:
        found = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(5)")]
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if found == ["ok"]:
        return None
    lines = [line.strip() for r in found for line in r.splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith("***"))
