"""The registry's answers for the Python API: ``list_models``, ``show``, ``lineage``, ``where`` and ``doctor``.

The queries themselves live in ``reader.py``; these functions run them in a read-only snapshot of an open
``Registry`` (``Registry.snapshot``), on the DB-API connection of its transaction (``Sql.of``).
"""

from __future__ import annotations

from assay.errors import InputError
from assay.registry._copies import KEPT_FILES, kept_files, pull_into
from assay.registry._interface import DoctorProblem, LineageTree, ModelSummary, VersionInfo, WhereHit
from assay.registry._reader import Reader
from assay.registry._sql import Sql
from assay.registry._store import Registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


def list_models(reg: Registry, *, owner: str | None = None, license_class: str | None = None,
                status: str | None = None, limit: int | None = None) -> list[ModelSummary]:
    """Every model with its newest version; the filters apply to the model's owner and its newest version."""
    with reg.snapshot() as session:
        return Reader(Sql.of(session)).list_models(owner=owner, license_class=license_class, status=status, limit=limit)


def show(reg: Registry, ref: str) -> VersionInfo:
    """Everything known about ``NAME[@VERSION]``, evidence and parents included."""
    with reg.snapshot() as session:
        return Reader(Sql.of(session)).show(ref)


def lineage(reg: Registry, ref: str) -> LineageTree:
    """Base models up (recursively through registered versions), derived versions down, datasets."""
    with reg.snapshot() as session:
        return Reader(Sql.of(session)).lineage(ref)


def where(reg: Registry, query: str) -> list[WhereHit]:
    """Every version, dataset, artifact, release and evidence blob that is, contains or derives from ``query``
    (a digest, a hex prefix of 8+ digits, or a reference to a model version, dataset, artifact or release)."""
    with reg.snapshot() as session:
        return Reader(Sql.of(session)).where(query)


def doctor(reg: Registry) -> list[DoctorProblem]:
    """Check every blob any row or audit entry cites (evidence, artifacts, dataset manifests, release parameters,
    deployment evidence, policies, log keys) against its digest; list blobs nothing cites (``orphan``) and
    half-written temporary files a killed writer left (``leftover``), neither of which is a failure; and check
    every sealed row against the audit entry that wrote it (``_seal``: inserted, changed, deleted or replayed
    outside assay)."""
    from assay.registry._auditread import record_problems

    problems: list[DoctorProblem] = []
    cited: dict[str, list[str]] = {}
    with reg.snapshot() as session:
        reader = Reader(Sql.of(session))
        for digest, citer in reader.cited_blobs():
            cited.setdefault(digest, []).append(citer)
        kept_lists = [(reader.subject(e.subject_kind, e.subject_id), e.digest) for e in reader.sql.rows(
            "SELECT subject_kind, subject_id, digest FROM evidence WHERE kind = :k ORDER BY id", k=KEPT_FILES)]
        problems += [DoctorProblem(kind, None, message) for kind, message, _ in record_problems(session)]
    for subject, digest in kept_lists:  # a kept copy's files are cited by its list (itself checked below)
        try:
            files = kept_files(reg.blobs.get_verified(digest))
        except InputError:
            continue
        for f in files:
            cited.setdefault(f["digest"], []).append(f"{subject} kept file {f['path']}")
    for digest, citers in cited.items():
        problem = reg.blobs.check(digest)
        if problem is not None:
            problems.append(DoctorProblem(problem.kind, digest, problem.message, tuple(citers)))
    for digest in reg.blobs.digests():
        if digest not in cited:
            problems.append(DoctorProblem("orphan", digest, f"evidence {digest} is stored but cited by no row "
                                          "or audit entry"))
    problems += [DoctorProblem("leftover", None, f"{path} is a temporary file a writer left (safe to delete once no "
                               "assay process is running)") for path in reg.blobs.leftovers()]
    return problems


def pull(reg: Registry, ref: str, target: Path) -> dict[str, Any]:
    """Restore the files of model version ``ref`` from the copy intake kept into the new or empty folder ``target``,
    each checked against its digest and the whole against the version's identity (``_copies.pull_into``)."""
    from sqlalchemy import select

    from assay.registry._schema import EvidenceRow, VersionRow
    from assay.registry._seal import RecordTampered
    from assay.registry._store import must_get

    with reg.snapshot() as session:
        model, found = reg.find_version(session, ref)
        version = must_get(session, VersionRow, found.id)
        row = session.scalars(select(EvidenceRow).where(EvidenceRow.subject_kind == "version",
                                                        EvidenceRow.subject_id == version.id,
                                                        EvidenceRow.kind == KEPT_FILES)).first()
        name = f"{model.name}@{version.number}"
        if row is None:
            raise InputError(f"no copy of the files of {name} was kept (over --keep-max-bytes at intake, or taken "
                             "in before copies were kept: intake the same folder again to keep one)")
        problems = reg.unsealed(session, [version, row])
        if problems:
            raise RecordTampered(f"{problems[0]}: nothing was restored (run assay audit verify)")
        files = kept_files(reg.blobs.get_verified(row.digest))
        identity = version.identity
    pull_into(reg.blobs, files, identity, target)
    return {"version": name, "identity": identity, "target": str(target), "files": len(files),
            "bytes": sum(f["size"] for f in files)}
