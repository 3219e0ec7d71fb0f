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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from assay.errors import UsageError
from assay.registry.interface import MAX_NUMBER, NotFound, Ref, check_name
from assay.registry.schema import ArtifactRow, DatasetRow, ModelRow, ReleaseRow, VersionRow

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


def _one(ref: str, what: str, matches: list[Any]) -> Any:
    """The single row a prefix selects; two or more is ambiguous."""
    if len(matches) > 1:
        raise Ambiguous(f"{ref!r} is ambiguous: {len(matches)} {what} start with it")
    return matches[0] if matches else None


def find_model(session: Session, name: str) -> ModelRow | None:
    """The model named ``name`` (a name, not a reference), or None."""
    return session.scalars(select(ModelRow).where(ModelRow.name == name)).one_or_none()


def find_version(session: Session, ref: str) -> tuple[ModelRow, VersionRow]:
    """The model and version ``ref`` names (see the module docstring)."""
    r = parse_ref(ref)
    model = find_model(session, r.name)
    if model is None:
        raise NotFound(f"no model named {r.name!r} in the registry")
    q = select(VersionRow).where(VersionRow.model_id == model.id)
    if r.number is not None:
        row = session.scalars(q.where(VersionRow.number == r.number)).one_or_none()
    elif r.prefix is not None:
        row = _one(ref, "versions", list(session.scalars(q.where(VersionRow.identity.startswith(r.prefix))
                                                         .order_by(VersionRow.number))))
    elif r.latest:
        row = session.scalars(q.order_by(VersionRow.number.desc()).limit(1)).first()
    else:  # the newest accepted version, else the newest
        row = session.scalars(q.order_by(case((VersionRow.status == "accepted", 0), else_=1),
                                         VersionRow.number.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"no version {ref!r} in the registry")
    return model, row


def find_dataset(session: Session, ref: str) -> DatasetRow:
    """The dataset version ``ref`` names."""
    row = _numbered(session, DatasetRow, DatasetRow.identity, ref, "dataset versions")
    if row is None:
        raise NotFound(f"no dataset {ref!r} in the registry (register it with `assay dataset register`)")
    return row


def find_artifact(session: Session, ref: str) -> ArtifactRow:
    """The artifact version ``ref`` names (a prefix selects by content digest)."""
    row = _numbered(session, ArtifactRow, ArtifactRow.digest, ref, "artifact versions")
    if row is None:
        raise NotFound(f"no artifact {ref!r} (add it with `assay artifact add`)")
    return row


def find_release(session: Session, ref: str) -> ReleaseRow:
    """The release named ``ref`` (anything that is not a release name is NotFound, as an unknown name is)."""
    try:
        r: Ref | None = parse_ref(ref)
    except (UsageError, NotFound):
        r = None
    row = (session.scalars(select(ReleaseRow).where(ReleaseRow.name == r.name)).one_or_none()
           if r is not None and r.bare else None)
    if row is None:
        raise NotFound(f"no release named {ref!r}")
    return row


def _numbered(session: Session, cls: Any, digest_column: Any, ref: str, what: str) -> Any:
    """Datasets and artifacts: numbered per name, the newest by default."""
    r = parse_ref(ref)
    q = select(cls).where(cls.name == r.name)
    if r.number is not None:
        return session.scalars(q.where(cls.number == r.number)).one_or_none()
    if r.prefix is not None:
        return _one(ref, what, list(session.scalars(q.where(digest_column.startswith(r.prefix))
                                                    .order_by(cls.number))))
    return session.scalars(q.order_by(cls.number.desc()).limit(1)).first()


@dataclass(frozen=True)
class Resolved:
    """What one reference names, kind by kind; ``resolve`` returns it with at least one set."""

    version: tuple[ModelRow, VersionRow] | None = None
    dataset: DatasetRow | None = None
    artifact: ArtifactRow | None = None
    release: ReleaseRow | None = None


def resolve(session: Session, ref: str) -> Resolved:
    """Everything ``ref`` names: a model, a dataset, an artifact and a release may share a name.

    NotFound when it names nothing: with the message of a kind that holds the name (``no version 'm@9'``),
    else one saying that no kind does. An ambiguous prefix is an error whatever else it matched.
    """
    r = parse_ref(ref)
    found: dict[str, Any] = {}
    miss: NotFound | None = None
    for kind, lookup, cls in (("version", find_version, ModelRow), ("dataset", find_dataset, DatasetRow),
                              ("artifact", find_artifact, ArtifactRow)):
        try:
            found[kind] = lookup(session, ref)
        except Ambiguous:
            raise
        except NotFound as exc:
            if miss is None and session.scalars(select(cls.id).where(cls.name == r.name).limit(1)).first():
                miss = exc
    if r.bare:
        found["release"] = session.scalars(select(ReleaseRow).where(ReleaseRow.name == r.name)).one_or_none()
    if not any(found.values()):
        raise miss or NotFound(f"no model, no dataset, no artifact and no release named {ref!r} in the registry")
    return Resolved(**found)
