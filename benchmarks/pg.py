"""What the registry benchmarks share: a throw-away PostgreSQL database and opening a registry as the CLI does."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
"""The admin connection: trust auth, database ``test``."""


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[tuple[str | None, str]]:
    """A new ``assay_bench_<random>`` database: yields (its SQLAlchemy URL, "") or (None, why it is unreachable),
    and drops it WITH (FORCE) afterwards, also on error."""
    import psycopg2

    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=5)
    except psycopg2.Error as exc:
        yield None, str(exc).strip().splitlines()[0]
        return
    admin.autocommit = True
    cursor = admin.cursor()
    db = f"assay_bench_{secrets.token_hex(4)}"
    cursor.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{db}", ""
    finally:
        cursor.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def open_registry(env: dict[str, str]):  # noqa: ANN201 - an assay.registry.Registry
    """A Registry opened the way the CLI opens it, from ASSAY_HOME / ASSAY_DATABASE_URL / ASSAY_ACTOR in ``env``."""
    from assay.config import load_settings
    from assay.registry import Registry

    for key in ("ASSAY_HOME", "ASSAY_DATABASE_URL", "ASSAY_ACTOR"):
        os.environ.pop(key, None)
        if key in env:
            os.environ[key] = env[key]
    return Registry.open(load_settings())
