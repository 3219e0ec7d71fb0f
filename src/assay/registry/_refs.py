"""References to what the registry holds, parsed once and resolved one way per kind.

A reference is ``NAME`` or ``NAME@SELECTOR``; the selector is a version number (``@3``), ``@latest`` or the
start of the identity or digest (``@sha256:1a2b3c4d...``, or 8+ bare hex digits). Every caller (the read
commands, intake, releases, rollback) resolves through these functions, so a reference means the same thing
everywhere:

- a model version: ``NAME`` is the newest accepted version (else the newest); ``@latest`` the newest whatever its
  status; ``@N`` that number; ``@PREFIX`` the one version whose identity starts so;
- a dataset or an artifact: ``NAME`` and ``@latest`` are the newest; ``@N`` and ``@PREFIX`` as for versions;
- a release: its name (releases are immutable and named, not numbered).

``resolve`` tries every kind at once: ``assay where`` answers for whatever the reference names.

The lookups are text SQL on ``_sql.Sql`` (why not SQLAlchemy: see ``_sql.py``), so the read commands resolve
without importing SQLAlchemy and a write path resolves inside its own transaction: every function takes an
``Sql`` or a SQLAlchemy ``Session`` (``Sql.of(session)``: its pending rows are flushed first). Rows come back as
``_sql.Row`` (columns by name, as keys or attributes); a write path that needs the mapped object loads it by
id (``session.get(VersionRow, row.id)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.errors import UsageError
from assay.registry._interface import ARTIFACT_KINDS, MAX_NUMBER, NotFound, Ref, check_name
from assay.registry._sql import Row, Sql

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LATEST = "latest"
"""The selector that names the newest version of a name (``NAME@latest``)."""
_PREFIX = re.compile(r"sha256:[0-9a-fA-F]{8,64}")


def parse_ref(ref: str) -> Ref:
    """Parse ``NAME[@SELECTOR]``; a selector that is neither a number, ``latest`` nor 8+ hex digits is NotFound.

    Numbers are ASCII digits only (``str.isdigit`` accepts ``²``); hex prefixes go into LIKE queries, so nothing
    but hex digits may reach them.
    """
    name, sep, selector = ref.partition("@")
    check_name(name)
    if not sep:
        return Ref(name)
    if selector == LATEST:
        return Ref(name, latest=True)
    if selector.isascii() and selector.isdigit():
        number = int(selector)
        return Ref(name, number=number if number <= MAX_NUMBER else -1)
    prefix = selector if selector.startswith("sha256:") else f"sha256:{selector}"
    if not _PREFIX.fullmatch(prefix):
        raise NotFound(f"{ref!r}: give a number, latest, or at least 8 hex digits of the identity")
    return Ref(name, prefix=prefix.lower())


class Ambiguous(NotFound):
    """A hex prefix that starts two or more identities of one name (exit 2)."""


def _db(db: Sql | Session) -> Sql:
    return db if isinstance(db, Sql) else Sql.of(db)


def _one(ref: str, what: str, matches: list[Row]) -> Row | None:
    """The single row a prefix selects; two or more is ambiguous."""
    if len(matches) > 1:
        raise Ambiguous(f"{ref!r} is ambiguous: {len(matches)} {what} start with it")
    return matches[0] if matches else None


def find_model(db: Sql | Session, name: str) -> Row | None:
    """The model named ``name`` (a name, not a reference), or None."""
    return _db(db).row("SELECT * FROM models WHERE name = :n", n=name)


# The numbered kinds: table and the column a hex prefix selects by. Versions are numbered per model, datasets
# and artifacts per name.
_VERSIONS = "SELECT * FROM model_versions WHERE model_id = :owner"
_NUMBERED = {"datasets": ("SELECT * FROM datasets WHERE name = :owner", "identity"),
             "artifacts": ("SELECT * FROM artifacts WHERE name = :owner", "digest")}


def _select(sql: Sql, base: str, digest_column: str, owner: object, r: Ref, ref: str, what: str,
            default_order: str) -> Row | None:
    """The row ``r``'s selector picks among ``base``'s rows (those of one model, or of one name)."""
    if r.number is not None:
        return sql.row(base + " AND number = :k", owner=owner, k=r.number)
    if r.prefix is not None:
        return _one(ref, what, sql.rows(base + f" AND {digest_column} LIKE :p ORDER BY number", owner=owner,
                                        p=r.prefix + "%"))
    order = "number DESC" if r.latest else default_order
    return sql.row(base + f" ORDER BY {order} LIMIT 1", owner=owner)


def find_version(db: Sql | Session, ref: str) -> tuple[Row, Row]:
    """The model and version ``ref`` names (see the module docstring)."""
    sql = _db(db)
    r = parse_ref(ref)
    model = find_model(sql, r.name)
    if model is None:
        raise NotFound(f"no model named {r.name!r} in the registry")
    # a bare name: the newest accepted version, else the newest
    row = _select(sql, _VERSIONS, "identity", model.id, r, ref, "versions",
                  "(CASE WHEN status = 'accepted' THEN 0 ELSE 1 END), number DESC")
    if row is None:
        raise NotFound(f"no version {ref!r} in the registry")
    return model, row


def find_dataset(db: Sql | Session, ref: str) -> Row:
    """The dataset version ``ref`` names."""
    row = _numbered(_db(db), "datasets", ref, "dataset versions")
    if row is None:
        raise NotFound(f"no dataset {ref!r} in the registry (register it with `assay dataset register`)")
    return row


def find_artifact(db: Sql | Session, ref: str) -> Row:
    """The artifact version ``ref`` names (a prefix selects by content digest); ``KIND:NAME@VERSION`` (as
    ``release create --artifact`` takes it) also requires the artifact to be of that kind."""
    kind, sep, rest = ref.partition(":")
    if not (sep and kind in ARTIFACT_KINDS):
        kind, rest = "", ref
    row = _numbered(_db(db), "artifacts", rest, "artifact versions")
    if row is None:
        raise NotFound(f"no artifact {rest!r} (add it with `assay artifact add`)")
    if kind and row.kind != kind:
        raise UsageError(f"artifact {row.name}@{row.number} is a {row.kind}, not a {kind}")
    return row


def find_release(db: Sql | Session, ref: str) -> Row:
    """The release named ``ref`` (anything that is not a release name is NotFound, as an unknown name is)."""
    try:
        r: Ref | None = parse_ref(ref)
    except (UsageError, NotFound):
        r = None
    row = _release(_db(db), r.name) if r is not None and r.bare else None
    if row is None:
        raise NotFound(f"no release named {ref!r}")
    return row


def _release(sql: Sql, name: str) -> Row | None:
    return sql.row("SELECT * FROM releases WHERE name = :n", n=name)


def _numbered(sql: Sql, table: str, ref: str, what: str) -> Row | None:
    """Datasets and artifacts: numbered per name, the newest by default."""
    r = parse_ref(ref)
    base, digest_column = _NUMBERED[table]
    return _select(sql, base, digest_column, r.name, r, ref, what, "number DESC")


@dataclass(frozen=True)
class Resolved:
    """What one reference names, kind by kind; ``resolve`` returns it with at least one set."""

    version: tuple[Row, Row] | None = None
    dataset: Row | None = None
    artifact: Row | None = None
    release: Row | None = None


def resolve(db: Sql | Session, ref: str) -> Resolved:
    """Everything ``ref`` names: a model, a dataset, an artifact and a release may share a name.

    NotFound when it names nothing: with the message of a kind that holds the name (``no version 'm@9'``),
    else one saying that no kind does. An ambiguous prefix is an error whatever else it matched.
    """
    sql = _db(db)
    r = parse_ref(ref)
    found: dict[str, object] = {}
    miss: NotFound | None = None
    for kind, lookup, table in (("version", find_version, "models"), ("dataset", find_dataset, "datasets"),
                                ("artifact", find_artifact, "artifacts")):
        try:
            found[kind] = lookup(sql, ref)
        except Ambiguous:
            raise
        except NotFound as exc:
            if miss is None and sql.row(f"SELECT id FROM {table} WHERE name = :n LIMIT 1", n=r.name):
                miss = exc
    if r.bare:
        found["release"] = _release(sql, r.name)
    if not any(found.values()):
        raise miss or NotFound(f"no model, no dataset, no artifact and no release named {ref!r} in the registry")
    return Resolved(**found)  # type: ignore[arg-type]  # each kind's lookup returns that field's type
