"""``assay intake``: scan, identify, read the card and license, check the signature, write the BOM, record it all.

The identity of a version is its OMS manifest root digest, so intake of the same bytes under the same name
returns the version already recorded. A model the scan or the signature rejects is not registered unless the
caller asks to keep the rejection on record (``record_rejected``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assay._files import read_bounded
from assay.errors import InputError, UsageError
from assay.registry._copies import DEFAULT_KEEP_MAX_BYTES, KEPT_FILES, keep
from assay.registry._interface import NotFound, VersionInfo, check_model_attributes, check_name
from assay.registry._refs import find_dataset, find_version
from assay.registry._schema import EvidenceRow, LineageRow, VersionFileRow, VersionRow
from assay.registry._store import Registry, now
from assay.scan import ScanConfig

MAX_TRAINING_BYTES = 1 << 20
"""A ``--training`` record larger than this is refused."""
MAX_CONFIG_BYTES = 4 << 20
"""config.json files larger than this are not read for lineage."""
_RELATIONS = {"finetune", "adapter", "quantized", "merge", "distillation", "base"}
LATER_EVIDENCE_KINDS = ("reinspection", "signature-attached")
"""Entries that add evidence to a version after its intake."""


@dataclass(frozen=True)
class IntakeRequest:
    """What the user asked to bring in, and what they told us about it."""

    path: Path
    name: str
    publisher: str | None = None
    source_url: str | None = None
    revision: str | None = None
    owner: str | None = None
    intended_use: str | None = None
    data_sensitivity: str | None = None
    risk_tier: str | None = None
    training: Path | None = None
    datasets: tuple[str, ...] = ()
    signature: Path | None = None
    public_key: Path | None = None
    cert_chain: Path | None = None
    record_rejected: bool = False
    scan_config: ScanConfig | None = None
    keep_max_bytes: int = DEFAULT_KEEP_MAX_BYTES  # keep the files in the store up to this total (0: never)


@dataclass(frozen=True)
class IntakeResult:
    """What intake decided and recorded. ``version`` is None for a rejection that was not recorded."""

    accepted: bool
    created: bool
    reasons: tuple[str, ...]
    missing: tuple[str, ...]
    identity: str
    version: VersionInfo | None
    scan: dict[str, Any]
    license: dict[str, Any]
    signature: dict[str, Any]
    lineage: tuple[dict[str, Any], ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 accepted, 1 rejected (the scan or the signature said no)."""
        return 0 if self.accepted else 1

    def to_json(self) -> dict[str, Any]:
        """JSON form (schema ``assay.intake/1.0``)."""
        return {"schema": "assay.intake/1.0", "accepted": self.accepted, "created": self.created,
                "reasons": list(self.reasons), "missing": list(self.missing), "identity": self.identity,
                "version": self.version.to_json() if self.version else None, "scan": self.scan,
                "license": self.license, "signature": self.signature, "lineage": list(self.lineage),
                "exit_code": self.exit_code}


def _validate(req: IntakeRequest) -> None:
    check_name(req.name, "model name")
    check_model_attributes({"risk_tier": req.risk_tier, "data_sensitivity": req.data_sensitivity})
    if req.public_key and req.cert_chain:
        raise UsageError("give --public-key or --cert-chain, not both")
    if req.signature and not (req.public_key or req.cert_chain):
        raise UsageError("--signature needs --public-key or --cert-chain to check it against")
    if not req.path.exists():
        raise InputError(f"{req.path}: no such file or folder")


def _training(path: Path | None) -> tuple[dict[str, Any], bytes | None]:
    if path is None:
        return {}, None
    raw = read_bounded(path, MAX_TRAINING_BYTES, "max_training_bytes", "training record")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: the training record must be a JSON object")
    for key in ("base_model", "datasets"):
        value = doc.get(key)
        if value is not None and not (isinstance(value, str) or
                                      (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            raise InputError(f"{path}: '{key}' must be a string or a list of strings")
    return doc, raw


def _as_list(value: object) -> list[str]:
    """A training-record field that is a string or a list of strings (checked by ``_training``)."""
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] \
        if isinstance(value, list) else []


def _signature(req: IntakeRequest) -> tuple[dict[str, Any], bytes | None]:
    sig_path = req.signature or (req.path / "model.sig" if req.path.is_dir() else None)
    present = sig_path is not None and sig_path.is_file()
    if not (req.public_key or req.cert_chain):
        status = "unverified" if present else "unsigned"
        return {"status": status, "signer": None, "problems": [],
                "message": "a signature file is present but no key was given to check it" if present else
                "no signature"}, (sig_path.read_bytes() if present and sig_path is not None else None)
    from assay.signing import verify

    result = verify(req.path, public_key=req.public_key, cert_chain=req.cert_chain, signature=req.signature)
    bundle = Path(result.signature).read_bytes() if Path(result.signature).is_file() else None
    return {"status": "verified" if result.ok else "failed", "signer": result.signer, "method": result.method,
            "problems": [p.message for p in result.problems],
            "message": "verified" if result.ok else result.problems[0].message}, bundle


@dataclass(frozen=True)
class Inspection:
    """Everything intake learned from the files, before anything is written (see ``inspect_model``)."""

    manifest: Any
    report: Any
    card: Any
    license: Any
    signature: dict[str, Any]
    signature_bytes: bytes | None
    training: dict[str, Any]
    training_bytes: bytes | None
    links: tuple[tuple[str, str, str, str], ...]  # (kind, name, relation, source)
    reasons: tuple[str, ...]
    missing: tuple[str, ...]
    verdict: str
    counts: dict[str, int]

    @property
    def accepted(self) -> bool:
        """True when neither the scan nor the signature said no."""
        return not self.reasons

    def summary(self) -> dict[str, Any]:
        """The scan, license and signature parts of an IntakeResult."""
        lic = self.license
        return dict(scan={"verdict": self.verdict, "exit_code": self.report.exit_code, "counts": self.counts},
                    license={"expression": lic.expression, "class": lic.license_class,
                             "obligations": list(lic.obligations), "name": lic.name,
                             "findings": [f.message for f in lic.findings]},
                    signature=self.signature)


def inspect_model(req: IntakeRequest) -> Inspection:
    """Scan, hash, read the card and license, check the signature and collect lineage; writes nothing."""
    from assay import scan
    from assay.card import card_and_license
    from assay.manifest import hash_model

    _validate(req)
    training, training_raw = _training(req.training)
    report = scan(req.path, config=req.scan_config)
    manifest = hash_model(req.path)
    if not manifest.resources:
        raise InputError(f"{req.path} holds no files: an empty folder is not a model")
    card, lic = card_and_license(req.path)
    sig, sig_bytes = _signature(req)
    counts = {s: 0 for s in ("critical", "high", "medium", "low", "info")}
    for f in report.findings:
        counts[f.severity.label] += 1
    verdict = "error" if report.all_errors else ("findings" if report.findings else "clean")
    reasons = []
    if report.exit_code == 1:
        reasons.append(f"scan: {len(report.blocking)} finding(s) at or above {report.fail_on.label}")
    elif report.all_errors:  # fail closed: what could not be scanned is not let in
        reasons.append(f"scan incomplete: {report.all_errors[0].message}")
    if sig["status"] == "failed":
        reasons.append(f"signature: {sig['message']}")
    links: list[tuple[str, str, str, str]] = []
    for base in card.base_models:
        links.append(("model", base.name, base.relation if base.relation in _RELATIONS else "base", "card"))
    relation = training.get("base_model_relation")
    for base_name in _as_list(training.get("base_model")):
        links.append(("model", base_name, relation if relation in _RELATIONS else "finetune", "training"))
    config_base = _config_base_model(req.path, req.name) if req.path.is_dir() else None
    if config_base:
        links.append(("model", config_base, "base", "config"))
    links += [("dataset", ds, "trained-on", "card") for ds in card.datasets]
    links += [("dataset", ds, "trained-on", "training") for ds in _as_list(training.get("datasets"))]
    links += [("dataset", ds, "trained-on", "flag") for ds in req.datasets]
    unique: list[tuple[str, str, str, str]] = []
    for link in links:  # the first mention of a parent wins (the card before the training record)
        if not any(u[:2] == link[:2] for u in unique):
            unique.append(link)
    missing = tuple(item for item, absent in (
        ("model card", card.path is None), ("license", lic.expression is None),
        ("signature", sig["status"] != "verified"), ("owner", not req.owner), ("source URL", not req.source_url),
        ("base model or datasets", not unique), ("intended use", not req.intended_use),
        ("risk tier", not req.risk_tier)) if absent)
    return Inspection(manifest, report, card, lic, sig, sig_bytes, training, training_raw, tuple(unique),
                      tuple(reasons), missing, verdict, counts)


def later_evidence_entries(reg: Registry, session: Any, identity: str) -> list[int]:
    """The entries that added evidence to the versions of ``identity`` after intake, found through the checked
    kind index (``Registry.kind_index``: none hidden by an edited ``kind``): a gate consults them
    (``Registry.unsealed``), so a newer scan report deleted outside assay cannot bring back an older verdict."""
    needle = f'"identity":"{identity}"'
    return [index for index, body in reg.kind_index(session, *LATER_EVIDENCE_KINDS) if needle in body]


def intake(reg: Registry, req: IntakeRequest) -> IntakeResult:
    """Inspect ``req.path`` and record it as a version of ``req.name`` (see the module docstring)."""
    return record(reg, req, inspect_model(req))


def record(reg: Registry, req: IntakeRequest, insp: Inspection) -> IntakeResult:
    """Write an inspection into the registry in one transaction (idempotent on the manifest identity)."""
    from assay.bom import BomDataset, BomInput, bom_json

    manifest, card, lic, sig = insp.manifest, insp.card, insp.license, insp.signature
    if not insp.accepted and not req.record_rejected:
        return IntakeResult(False, False, insp.reasons, insp.missing, manifest.identity, None,
                            lineage=tuple({"kind": k, "name": n, "relation": r, "source": s, "registered": False}
                                          for k, n, r, s in insp.links), **insp.summary())
    folder = req.path if req.path.is_dir() else req.path.parent
    kept = keep(reg.blobs, req.path, manifest, sum(f.size for f in insp.report.files), req.keep_max_bytes) \
        if insp.accepted else None  # before the transaction: copying a large model must not hold the write lock
    with reg.write() as session:
        model = reg.lock_model(session, req.name, {"owner": req.owner, "risk_tier": req.risk_tier,
                                                   "intended_use": req.intended_use,
                                                   "data_sensitivity": req.data_sensitivity})
        existing = session.scalars(select(VersionRow).where(VersionRow.model_id == model.id,
                                                            VersionRow.identity == manifest.identity)).one_or_none()
        if existing is not None:  # same bytes: the version stands; today's scan is added as fresh evidence
            later = [("scan-report", "scan.json", json.dumps(insp.report.to_dict(), indent=2).encode(),
                      "application/json")]
            if kept is not None and session.scalars(select(EvidenceRow.id).where(
                    EvidenceRow.subject_kind == "version", EvidenceRow.subject_id == existing.id,
                    EvidenceRow.kind == KEPT_FILES)).first() is None:  # a version from before copies were kept
                later.append((KEPT_FILES, "files.json", kept, "application/json"))
            reg.evidence_rows(session, "version", existing.id, later)
            reg.log(session, LATER_EVIDENCE_KINDS[0], {"version": f"{model.name}@{existing.number}",
                                              "identity": existing.identity, "scan_verdict": insp.verdict,
                                              "scan_counts": insp.counts})
            if sig["status"] == "verified" and existing.signature_status != "verified":
                _attach_signature(reg, session, existing, f"{model.name}@{existing.number}", req, insp)
            session.flush()
            info = reg.describe(session, f"{model.name}@{existing.number}")
            return IntakeResult(existing.status == "accepted" and insp.accepted, False,
                                tuple(existing.status_reasons) + insp.reasons, tuple(existing.missing),
                                manifest.identity, info, lineage=tuple(p.to_json() for p in info.parents),
                                **insp.summary())
        flagged = {name: find_dataset(session, name)  # --dataset must name a registered dataset
                   for kind, name, _, source in insp.links if kind == "dataset" and source == "flag"}
        row = VersionRow(
            model_id=model.id, number=reg.next_number(session, VersionRow.number, VersionRow.model_id == model.id),
            identity=manifest.identity, status="accepted" if insp.accepted else "rejected",
            status_reasons=list(insp.reasons), source_url=req.source_url, publisher=req.publisher,
            revision=req.revision, formats=sorted({fmt for f in insp.report.files for fmt in f.formats}),
            file_count=len(manifest.resources), total_bytes=sum(f.size for f in insp.report.files),
            serialization=manifest.serialization.to_json(), license_expression=lic.expression,
            license_class=lic.license_class, license_obligations=list(lic.obligations),
            signature_status=sig["status"], signer=sig.get("signer"), scan_verdict=insp.verdict,
            scan_counts=insp.counts, card=_card_summary(card), missing=list(insp.missing),
            location=str(req.path.resolve()), created_by=reg.actor, created_at=now())
        session.add(row)
        session.flush()
        session.add_all(VersionFileRow(version_id=row.id, path=r.name, digest=f"{r.algorithm}:{r.hex}")
                        for r in manifest.resources)
        bom_datasets = []
        for kind, name, relation, source in insp.links:
            edge = LineageRow(child_version_id=row.id, parent_kind=kind, parent_name=name, relation=relation,
                              source=source, created_by=reg.actor, created_at=now())
            if kind == "model":
                edge.parent_version_id = _registered_model_version(session, name)
            else:
                ds = flagged.get(name) or _registered_dataset(session, name)
                edge.parent_dataset_id = ds.id if ds is not None else None
                bom_datasets.append(BomDataset(name=ds.name if ds else name, version=str(ds.number) if ds else None,
                                               source_url=ds.source_url if ds else None,
                                               license=ds.license if ds else None,
                                               digest=ds.identity if ds else None))
            session.add(edge)
        bom = bom_json(BomInput(name=req.name, version=str(row.number), identity=manifest.identity,
                                manifest=manifest, card=card, license=lic, publisher=req.publisher,
                                source_url=req.source_url, revision=req.revision, datasets=tuple(bom_datasets),
                                intended_use=req.intended_use,
                                properties=(("assay:scan_verdict", insp.verdict),
                                            ("assay:signature_status", sig["status"]),
                                            ("assay:license_class", lic.license_class),
                                            ("assay:risk_tier", req.risk_tier or "unset"))))
        items = [("scan-report", "scan.json", json.dumps(insp.report.to_dict(), indent=2).encode(), "application/json"),
                 ("manifest", "manifest.json", json.dumps(manifest.to_json(), indent=2, sort_keys=True).encode(),
                  "application/json"),
                 ("bom", "bom.cdx.json", bom.encode(), "application/vnd.cyclonedx+json")]
        if card.path:
            items.append(("model-card", card.path, (folder / card.path).read_bytes(), "text/markdown"))
        for ev in lic.evidence:
            if ev.source != "card" and (folder / ev.source).is_file():
                items.append(("license", ev.source, (folder / ev.source).read_bytes(), "text/plain"))
        items += _signature_items(req, insp)
        if insp.training_bytes is not None and req.training is not None:
            items.append(("training", req.training.name, insp.training_bytes, "application/json"))
        if kept is not None:
            items.append((KEPT_FILES, "files.json", kept, "application/json"))
        reg.evidence_rows(session, "version", row.id, items)
        session.flush()
        info = reg.describe(session, f"{model.name}@{row.number}")
        reg.log(session, "intake", {"version": info.ref, "identity": info.identity, "status": info.status,
                                    "reasons": list(info.status_reasons), "location": row.location,
                                    "evidence": {e.kind: e.digest for e in info.evidence}})
    return IntakeResult(insp.accepted, True, insp.reasons, insp.missing, manifest.identity, info,
                        lineage=tuple(p.to_json() for p in info.parents), **insp.summary())


def _signature_items(req: IntakeRequest, insp: Inspection) -> list[tuple[str, str, bytes, str]]:
    """Evidence of a signature: its bundle and, when it verified, the key or CA that vouched (so rollback can
    verify it again later)."""
    items = []
    if insp.signature_bytes is not None:
        items.append(("signature", "model.sig", insp.signature_bytes, "application/vnd.dev.sigstore.bundle.v0.3+json"))
    if insp.signature["status"] == "verified":
        items += [(kind, key_file.name, key_file.read_bytes(), "application/x-pem-file")
                  for key_file, kind in ((req.public_key, "verification-key"), (req.cert_chain, "verification-certs"))
                  if key_file is not None]
    return items


def _attach_signature(reg: Registry, session: Any, version: VersionRow, ref: str, req: IntakeRequest,
                      insp: Inspection) -> None:
    """A signature given after intake, verified over the same bytes: recorded on the version with its bundle and
    the key that vouched (so rollback can verify it again), and logged with the status it replaces."""
    reg.evidence_rows(session, "version", version.id, _signature_items(req, insp))
    previous = version.signature_status
    version.signature_status, version.signer = "verified", insp.signature.get("signer")
    reg.log(session, LATER_EVIDENCE_KINDS[1], {"version": ref, "identity": version.identity, "from": previous,
                                            "signer": version.signer})


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}")


def _config_base_model(folder: Path, own_name: str) -> str | None:
    """``_name_or_path`` of config.json: transformers writes the hub id the weights were loaded from there, which
    for a fine-tune is its base model. Only a hub-style ``org/name`` that is not the model itself counts."""
    path = folder / "config.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None  # the scanner reports malformed configs; lineage just does not use them
    value = doc.get("_name_or_path") if isinstance(doc, dict) else None
    if isinstance(value, str) and _HUB_ID.fullmatch(value) and value.lower() != own_name.lower():
        return value
    return None


def _card_summary(card: Any) -> dict[str, Any]:
    return {"present": card.path is not None, "path": card.path, "license": card.license,
            "pipeline_tag": card.pipeline_tag, "library_name": card.library_name,
            "base_models": [{"name": b.name, "relation": b.relation} for b in card.base_models],
            "datasets": list(card.datasets), "languages": list(card.languages), "tags": list(card.tags)[:50],
            "summary": card.summary, "findings": [f.message for f in card.findings]}


def _registered_model_version(session: Any, name: str) -> int | None:
    """A base model named on a card or training record that is also registered links to the version its name
    resolves to, when accepted (an outside name that is no reference links to nothing)."""
    try:
        _, version = find_version(session, name)
    except (NotFound, UsageError):
        return None
    return version.id if version.status == "accepted" else None


def _registered_dataset(session: Any, name: str) -> Any:
    """The registered dataset a card or training record names, or None."""
    try:
        return find_dataset(session, name)
    except (NotFound, UsageError):
        return None
