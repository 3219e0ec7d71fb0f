"""Registry operations: intake, artifact add, dataset register, model set, doctor."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from assay.errors import UsageError
from assay.services._table import operation
from assay.services.interface import Context, Nothing, Result, Right

_SUBMIT = Right("submitter")


@dataclass(frozen=True)
class Intake:
    """``assay intake``: ``model_dir`` and the files are the caller's (uploaded to a server)."""

    model_dir: str
    name: str
    publisher: str | None = None
    source_url: str | None = None
    revision: str | None = None
    owner: str | None = None
    intended_use: str | None = None
    data_sensitivity: str | None = None
    risk_tier: str | None = None
    training: str | None = None
    dataset: list[str] | None = None
    signature: str | None = None
    public_key: str | None = None
    cert_chain: str | None = None
    record_rejected: bool = False
    keep_max_bytes: int | None = None


def keep_max_bytes(given: int | None) -> int:
    """``--keep-max-bytes``, else ``ASSAY_KEEP_MAX_BYTES`` where the registry is, else the default."""
    from assay.registry import DEFAULT_KEEP_MAX_BYTES

    if given is not None:
        return given
    text = os.environ.get("ASSAY_KEEP_MAX_BYTES")
    if text is None:
        return DEFAULT_KEEP_MAX_BYTES
    if not text.isdigit():
        raise UsageError(f"ASSAY_KEEP_MAX_BYTES={text!r} is not a number of bytes")
    return int(text)


@operation("intake", "Inspect a model folder and record it as an immutable registry version.", Intake, _SUBMIT,
           uploads=("model_dir", "training", "signature", "public_key", "cert_chain"), writes=True)
def intake(ctx: Context, p: Intake) -> Result:
    """Bring a model folder into the registry (exit 1 when rejected)."""
    from assay.registry import IntakeRequest
    from assay.registry import intake as record

    model_dir = ctx.path(p.model_dir)
    assert model_dir is not None
    req = IntakeRequest(path=model_dir, name=p.name, publisher=p.publisher, source_url=p.source_url,
                        revision=p.revision, owner=p.owner, intended_use=p.intended_use,
                        data_sensitivity=p.data_sensitivity, risk_tier=p.risk_tier, training=ctx.path(p.training),
                        datasets=tuple(p.dataset or ()), signature=ctx.path(p.signature),
                        public_key=ctx.path(p.public_key), cert_chain=ctx.path(p.cert_chain),
                        record_rejected=p.record_rejected, keep_max_bytes=keep_max_bytes(p.keep_max_bytes))
    result = record(ctx.registry(), req)
    return Result(result.to_json(), _intake_text(result), result.exit_code)


def _intake_text(r: Any) -> str:
    if r.version is None:
        head = f"REJECTED  {r.identity} (not recorded; --record-rejected keeps rejections)"
    else:
        state = "ACCEPTED" if r.accepted else "REJECTED"
        head = f"{state}  {r.version.ref}  {r.identity}" + ("" if r.created else "  (already registered: same bytes)")
    scan = r.scan
    counts = ", ".join(f"{n} {s}" for s, n in scan["counts"].items() if n) or "none"
    lic = r.license
    lines = [head,
             f"  scan       {scan['verdict']} (findings: {counts})",
             f"  license    {lic['expression'] or 'none found'} [{lic['class']}]"
             + (f"; obligations: {', '.join(lic['obligations'])}" if lic["obligations"] else ""),
             f"  signature  {r.signature['status']}" + (f" by {r.signature['signer']}" if r.signature.get("signer")
                                                        else f" ({r.signature['message']})"),
             "  lineage    " + _lineage_summary(r.lineage)]
    lines += [f"  note       {finding}" for finding in lic["findings"]]
    lines += [f"  refused    {reason}" for reason in r.reasons]
    if r.missing:
        lines.append(f"  missing    {', '.join(r.missing)}")
    return "\n".join(lines) + "\n"


def _lineage_summary(links: tuple[dict[str, Any], ...]) -> str:
    models = [f"{x['relation']} {x['name']}" for x in links if x["kind"] == "model"]
    datasets = [x["name"] for x in links if x["kind"] == "dataset"]
    if datasets:
        shown = ", ".join(datasets[:3]) + (f" and {len(datasets) - 3} more" if len(datasets) > 3 else "")
        models.append(f"{len(datasets)} dataset(s): {shown}")
    return "; ".join(models) or "none found"


@dataclass(frozen=True)
class DatasetRegister:
    """``assay dataset register``."""

    path: str
    name: str
    source_url: str | None = None
    license: str | None = None
    consent: str | None = None
    retention: int | None = None
    pii: str | None = None


@operation("dataset.register", "Hash a dataset folder and record it with its source, license and terms.",
           DatasetRegister, _SUBMIT, uploads=("path",), writes=True)
def dataset_register(ctx: Context, p: DatasetRegister) -> Result:
    """Register a dataset."""
    from assay.registry import register_dataset

    if p.pii is not None and p.pii not in ("yes", "no"):
        raise UsageError("--pii must be yes or no")
    folder = ctx.path(p.path)
    assert folder is not None
    d = register_dataset(ctx.registry(), folder, name=p.name, source_url=p.source_url, license=p.license,
                         consent=p.consent, retention_days=p.retention, pii=None if p.pii is None else p.pii == "yes")
    return Result({"schema": "assay.dataset/1.0", **d.to_json()},
                  f"{'registered' if d.created else 'already registered'} dataset {d.ref}  {d.identity}  "
                  f"({d.file_count} files, {d.total_bytes} bytes)\n")


@dataclass(frozen=True)
class ArtifactAdd:
    """``assay artifact add``."""

    file: str
    kind: str
    name: str


@operation("artifact.add", "Store a prompt, schema or parameter file by content under a name.", ArtifactAdd, _SUBMIT,
           uploads=("file",), writes=True)
def artifact_add(ctx: Context, p: ArtifactAdd) -> Result:
    """Add an artifact."""
    from assay.registry import add_artifact

    path = ctx.path(p.file)
    assert path is not None
    a = add_artifact(ctx.registry(), path, kind=p.kind, name=p.name)
    return Result({"schema": "assay.artifact/1.0", **a.to_json()},
                  f"{'added' if a.created else 'already stored'} {a.kind} {a.ref}  {a.digest}  ({a.size} bytes)\n")


@dataclass(frozen=True)
class ModelSet:
    """``assay model set``."""

    name: str
    owner: str | None = None
    risk_tier: str | None = None
    intended_use: str | None = None
    data_sensitivity: str | None = None


@operation("model.set", "Change a model's owner, risk tier, intended use or data sensitivity on the record.",
           ModelSet, _SUBMIT, writes=True)
def model_set(ctx: Context, p: ModelSet) -> Result:
    """Change a model's attributes."""
    from assay.registry import set_model_metadata

    changes = {k: getattr(p, k) for k in ("owner", "risk_tier", "intended_use", "data_sensitivity")
               if getattr(p, k) is not None}
    done = set_model_metadata(ctx.registry(), p.name, changes)
    lines = [f"{p.name}: {k.replace('_', ' ')} {c['from']!r} -> {c['to']!r}\n" for k, c in done["changes"].items()]
    return Result({"schema": "assay.model-change/1.0", **done}, "".join(lines) or f"{p.name}: no change\n")


@operation("doctor", "Check every blob and row against its digest and audit entry.", Nothing, Right("auditor"))
def doctor(ctx: Context, p: Nothing) -> Result:
    """Check the evidence store and the records (exit 1 on a problem)."""
    from assay.registry import doctor as check

    problems = check(ctx.registry())
    bad = [x for x in problems if x.kind not in ("orphan", "leftover")]
    text = "".join(f"{x.kind:<8} {x.message}" + (f"  (cited by {'; '.join(x.cited_by)})" if x.cited_by else "") + "\n"
                   for x in problems) + ("evidence store and records OK\n" if not bad else f"{len(bad)} problem(s)\n")
    return Result({"schema": "assay.doctor/1.0", "ok": not bad, "problems": [x.to_json() for x in problems]}, text,
                  1 if bad else 0)


@dataclass(frozen=True)
class Pull:
    """``assay pull``: ``target`` is the caller's new or empty folder."""

    ref: str
    target: str


@operation("pull", "Restore the kept files of a model version, each checked against its digest.", Pull,
           Right("viewer"), downloads=("target",))
def pull(ctx: Context, p: Pull) -> Result:
    """Restore a version's kept files."""
    from assay.registry import pull as restore

    doc = {**restore(ctx.registry(), p.ref, ctx.output(p.target)), "target": p.target}
    return Result({"schema": "assay.pull/1.0", **doc},
                  f"restored {doc['version']} into {doc['target']}: {doc['files']} files, {doc['bytes']} bytes, "
                  f"identity {doc['identity']} verified\n")


@dataclass(frozen=True)
class Bom:
    """``assay bom NAME@VERSION``: the BOM recorded at intake (to ``output`` when given)."""

    target: str
    output: str | None = None


def bom_result(target: str, output: str | None, text: str) -> Result:
    """The Result of ``assay bom``: the BOM as text, and the ``assay.bom-result/1.0`` document (with the BOM inline
    when it was not written to a file)."""
    import hashlib
    import json

    bom = json.loads(text)
    doc = {"schema": "assay.bom-result/1.0", "target": target, "output": output,
           "digest": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
           "serial_number": bom.get("serialNumber"), "spec_version": bom.get("specVersion")}
    if output is None:
        doc["bom"] = bom
    return Result(doc, text)


@operation("bom", "The CycloneDX ML-BOM recorded for a model version.", Bom, Right("viewer"), downloads=("output",))
def bom(ctx: Context, p: Bom) -> Result:
    """Read a recorded BOM (and write it where asked)."""
    from assay.registry import show as describe

    reg = ctx.registry()
    v = describe(reg, p.target)
    found = next((e for e in v.evidence if e.kind == "bom"), None)
    if found is None:
        raise UsageError(f"{v.ref} has no BOM on record")
    text = reg.blobs.get_verified(found.digest).decode()
    text = text if text.endswith("\n") else text + "\n"
    if p.output is not None:
        try:
            ctx.output(p.output).write_text(text)
        except OSError as exc:
            raise UsageError(f"cannot write {p.output}: {exc.strerror or exc}") from None
    return bom_result(p.target, p.output, text)
