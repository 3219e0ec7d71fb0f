"""The registry's answers for the Python API: ``list_models``, ``show``, ``lineage``, ``where`` and ``doctor``.

The queries themselves live in ``reader.py`` (plain DB-API, shared with the CLI); these functions run them on a
connection of an open ``Registry``.
"""

from __future__ import annotations

from assay.registry.interface import DoctorProblem, LineageTree, ModelSummary, VersionInfo, WhereHit
from assay.registry.reader import from_engine
from assay.registry.store import Registry


def list_models(reg: Registry, *, owner: str | None = None, license_class: str | None = None,
                status: str | None = None, limit: int | None = None) -> list[ModelSummary]:
    """Every model with its newest version; the filters apply to the model's owner and its newest version."""
    with from_engine(reg.engine) as reader:
        return reader.list_models(owner=owner, license_class=license_class, status=status, limit=limit)


def show(reg: Registry, ref: str) -> VersionInfo:
    """Everything known about ``NAME[@VERSION]``, evidence and parents included."""
    with from_engine(reg.engine) as reader:
        return reader.show(ref)


def lineage(reg: Registry, ref: str) -> LineageTree:
    """Base models up (recursively through registered versions), derived versions down, datasets."""
    with from_engine(reg.engine) as reader:
        return reader.lineage(ref)


def where(reg: Registry, query: str) -> list[WhereHit]:
    """Every version, dataset, artifact and evidence blob that is, contains or derives from ``query``
    (a digest, a hex prefix of 8+ digits, or ``NAME@VERSION``)."""
    with from_engine(reg.engine) as reader:
        return reader.where(query)


def doctor(reg: Registry) -> list[DoctorProblem]:
    """Check every cited evidence blob against its digest, and list blobs no row cites."""
    problems: list[DoctorProblem] = []
    cited: dict[str, list[str]] = {}
    with from_engine(reg.engine) as reader:
        for digest, subject_kind, subject_id, kind, name in reader.rows(
                "SELECT digest, subject_kind, subject_id, kind, name FROM evidence ORDER BY id"):
            cited.setdefault(digest, []).append(f"{reader.subject(subject_kind, subject_id)} {kind} {name}")
    for digest, citers in cited.items():
        problem = reg.blobs.check(digest)
        if problem is not None:
            problems.append(DoctorProblem(problem.kind, digest, problem.message, tuple(citers)))
    for digest in reg.blobs.digests():
        if digest not in cited:
            problems.append(DoctorProblem("orphan", digest, f"evidence {digest} is stored but cited by no row"))
    return problems
