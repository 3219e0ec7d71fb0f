"""Fixed SQL over a DB-API connection: the registry's reads, the reference resolver and the audit log's append.

Why these are not SQLAlchemy statements (measured on the 2-core development machine, Python 3.11):

- the read commands (``assay models``, ``show``, ``lineage``, ``where``) are typed during an incident and must
  answer in under 100 ms with 10,000 versions. ``import sqlalchemy`` alone costs about 200 ms, and
  ``sqlalchemy.orm`` with the mapped schema about 100 ms more (``python -X importtime -c "import
  sqlalchemy.orm"``): with every read on SQLAlchemy, ``assay show NAME@1`` took ~540 ms instead of ~85 ms.
  ``sqlite3`` (or ``psycopg2``) answers these few indexed SELECTs in a few milliseconds;
- an audit append is four fixed statements; SQLAlchemy's per-statement work (execution context, parameter
  processing, result set-up) was most of its cost: ~2,000 appends/s through Core against ~5,000/s on the
  DB-API cursor of the same transaction (``benchmarks/release_bench.py``; the target is >= 2,000/s).

So each SQL text is written once, with ``:name`` parameters, in the subset both databases share; ``Sql``
rewrites it for psycopg2 (``%(name)s``) and returns rows as ``Row`` (columns by name). There are two ways
to get one: ``Sql.connect(url)`` for a command that only reads (no SQLAlchemy imported unless the database
must first be created or migrated), and ``Sql.of(session)``, the DB-API connection of a SQLAlchemy session's
current transaction, so that a write path (intake, releases, rollback, the audit log) reads its own
uncommitted rows through the same resolver. Writes other than the audit log, transactions and migrations
stay on SQLAlchemy.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assay.errors import AssayError, ConfigError, InputError, UsageError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_TOKEN = re.compile(r"'(?:[^']|'')*'|(?<!:):([A-Za-z_]\w*)|%")
"""A string literal (kept), a ``:name`` parameter (not the second half of a ``::`` cast), or a bare ``%``."""
_PYFORMAT: dict[str, str] = {}
_JSON_COLUMNS = frozenset({"status_reasons", "formats", "serialization", "license_obligations", "scan_counts", "card",
                           "missing", "gate", "evidence_digests", "peaks"})
"""Columns of the schema's JSON type: SQLite hands them back as text, psycopg2 decoded."""
_TIME_COLUMNS = frozenset({"created_at", "expires_at"})
"""Columns of the schema's DateTime type: SQLite hands them back as ISO text, psycopg2 as datetime."""


class Row(dict[str, Any]):
    """One row: its columns by name, as keys or attributes (``row["number"]`` or ``row.number``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _pyformat(sql: str) -> str:
    """``sql`` with ``:name`` rewritten as psycopg2's ``%(name)s`` (and ``%`` doubled), cached per text."""
    found = _PYFORMAT.get(sql)
    if found is None:
        found = _PYFORMAT[sql] = _TOKEN.sub(
            lambda m: f"%({m.group(1)})s" if m.group(1) else m.group(0).replace("%", "%%"), sql)
    return found


def _decoders(description: Any) -> list[tuple[int, Any]]:
    """(column position, decoder) for the JSON and time columns of a SQLite result."""
    out: list[tuple[int, Any]] = []
    for i, column in enumerate(description):
        if column[0] in _JSON_COLUMNS:
            out.append((i, json.loads))
        elif column[0] in _TIME_COLUMNS:
            out.append((i, datetime.fromisoformat))
    return out


class Sql:
    """Text SQL with ``:name`` parameters on one DB-API connection of ``dialect`` (``sqlite`` or ``postgresql``)."""

    def __init__(self, connection: Any, dialect: str, error: type[Exception] | None = None) -> None:
        self.connection = connection
        self.dialect = dialect
        self.error = error  # the driver's error class: its errors become one DatabaseFault line

    # -- getting one ----------------------------------------------------------------------------------------
    @classmethod
    def of(cls, session: Session) -> Sql:
        """The connection of ``session``'s current transaction (begun if need be), its pending rows flushed:
        what runs here sees what the session wrote and is part of its transaction."""
        session.flush()
        conn = session.connection()
        dbapi = conn.dialect.dbapi
        return cls(conn.connection.dbapi_connection, conn.dialect.name, dbapi.Error if dbapi is not None else None)

    @classmethod
    def connect(cls, url: str) -> Sql:
        """A read-only connection of its own to the registry at ``url`` (``sqlite:///PATH`` or ``postgresql://``).

        A registry that does not exist yet, or is at an older schema, is first created or migrated the usual
        way (``db.open_engine``: SQLAlchemy and Alembic); one at a newer schema is refused. The reads then run in
        one consistent snapshot. Close it with ``close()`` (or use it as a context manager).
        """
        from assay.registry._interface import SCHEMA_REVISION

        if url.startswith("sqlite:"):
            import os

            from assay.config import sqlite_path

            path = sqlite_path(url)
            if path is None:
                raise ConfigError("an in-memory SQLite registry (sqlite:// or sqlite:///:memory:) ends with the "
                                  "command that made it: point ASSAY_DATABASE_URL at a file, sqlite:///PATH")
            if not os.path.isfile(path):  # sqlite3 would create an empty file: let open_engine make the registry
                _migrate(url)
        sql = cls._open(url)
        revision = sql.revision()
        if revision is not None and revision.isdigit() and int(revision) > int(SCHEMA_REVISION):
            sql.close()
            raise InputError(f"the registry database is at schema revision {revision}, newer than this assay "
                             f"understands ({SCHEMA_REVISION}): upgrade assay")
        if revision != SCHEMA_REVISION:
            sql.close()
            _migrate(url)
            sql = cls._open(url)
        sql.begin_snapshot()
        return sql

    @classmethod
    def _open(cls, url: str) -> Sql:
        if url.startswith("sqlite:"):
            import sqlite3

            from assay.config import sqlite_path

            path = sqlite_path(url) or ":memory:"  # connect() has refused in-memory URLs already
            try:
                # isolation_level=None: no implicit transactions; begin_snapshot issues BEGIN itself
                connection: Any = sqlite3.connect(path, timeout=60, isolation_level=None)
            except sqlite3.Error as exc:
                raise InputError(f"cannot open the registry database {path}: {exc}") from None
            return cls(connection, "sqlite", sqlite3.Error)
        if url.startswith("postgres"):
            import psycopg2

            from assay.config import postgres_url

            try:
                connection = psycopg2.connect(postgres_url(url))
            except psycopg2.Error as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise InputError(f"cannot open the registry database: {reason}") from None
            connection.autocommit = True  # begin_snapshot starts the one transaction
            return cls(connection, "postgresql", psycopg2.Error)
        raise ConfigError("ASSAY_DATABASE_URL must be a sqlite:/// or postgresql:// URL")

    def begin_snapshot(self) -> None:
        """Read one consistent view from here on: a deferred ``BEGIN`` on SQLite (in WAL mode it never waits for
        a writer), a read-only repeatable-read transaction on PostgreSQL."""
        self.execute("BEGIN" if self.dialect == "sqlite" else
                     "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def revision(self) -> str | None:
        """The schema's Alembic revision; None for a database without the registry's tables (any other fault, such
        as a damaged or unreadable file, is raised)."""
        try:
            found = self.row("SELECT version_num FROM alembic_version")
        except AssayError as exc:  # DatabaseFault
            if "alembic_version" in str(exc):
                return None
            raise
        return found["version_num"] if found else None

    def close(self) -> None:
        """Close a connection of our own (its snapshot ends; nothing was written)."""
        self.connection.close()

    def __enter__(self) -> Sql:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running SQL ----------------------------------------------------------------------------------------
    def _run(self, sql: str, params: Any, many: bool = False) -> Any:
        for values in params if many else [params]:
            if any(isinstance(v, str) and "\x00" in v for v in values.values()):
                # PostgreSQL cannot hold a NUL in text (SQLite can): the same answer on both, before either sees it
                raise UsageError("a value given holds a NUL character (U+0000), which no name or text may hold")
        if self.dialect == "postgresql":
            sql = _pyformat(sql)
        cursor = self.connection.cursor()
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            return cursor
        except BaseException:
            cursor.close()
            raise

    def rows(self, sql: str, **params: Any) -> list[Row]:
        """Every row of ``sql`` as a ``Row``; JSON and time columns decoded alike on both databases."""
        try:
            cursor = self._run(sql, params)
            try:
                found = cursor.fetchall()
                if not found:
                    return []
                names = [c[0] for c in cursor.description]
                decoders = _decoders(cursor.description) if self.dialect == "sqlite" else []
            finally:
                cursor.close()
        except Exception as exc:
            self._fail(exc)
            raise
        out = []
        for values in found:
            if decoders:
                values = list(values)
                for i, decode in decoders:
                    if isinstance(values[i], str):
                        values[i] = decode(values[i])
            out.append(Row(zip(names, values, strict=True)))
        return out

    def row(self, sql: str, **params: Any) -> Row | None:
        """The first row of ``sql``, or None."""
        found = self.rows(sql, **params)
        return found[0] if found else None

    def execute(self, sql: str, **params: Any) -> None:
        """Run a statement that returns no rows."""
        try:
            self._run(sql, params).close()
        except Exception as exc:
            self._fail(exc)
            raise

    def execute_many(self, sql: str, params: list[dict[str, Any]]) -> None:
        """Run one statement once per parameter set."""
        try:
            self._run(sql, params, many=True).close()
        except Exception as exc:
            self._fail(exc)
            raise

    def _fail(self, exc: Exception) -> None:
        """A driver error is one line (``DatabaseFault``); on a session's connection the session's owner then rolls
        back."""
        if self.error is not None and isinstance(exc, self.error):
            from assay.registry._faults import database_fault

            raise database_fault(exc) from None

    def time_param(self, value: datetime) -> Any:
        """A value for a DateTime column, stored as SQLAlchemy stores it: naive ISO text with microseconds on
        SQLite (the fields as given, UTC here), the aware datetime on PostgreSQL."""
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else value


def _migrate(url: str) -> None:
    """Create or migrate the registry at ``url`` (imports SQLAlchemy and Alembic: only when it is due)."""
    from assay.registry._db import open_engine

    open_engine(url).dispose()
