"""``assay intake``, ``dataset register``, ``artifact add``, ``license``, ``bom`` and ``doctor``: the registry from
the command line. Parses, calls the registry, renders. The read commands (``models``, ``show``, ``lineage``,
``where``) are in ``reads.py``."""

from __future__ import annotations

import contextlib
import enum
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from assay.errors import UsageError


class Fmt(enum.StrEnum):
    """Output formats."""

    text = "text"
    json = "json"


_FMT = typer.Option(Fmt.text, "--format", "-f", help="Output format.")
_ACTOR = typer.Option(None, "--actor", help="Who is acting [default: $ASSAY_ACTOR, else the OS user].")


def register(app: typer.Typer) -> None:
    """Add the registry commands to ``app``."""
    app.command("intake", help="Inspect a model folder and record it as an immutable registry version. Exit codes: "
                "0 accepted, 1 rejected (scan findings or a failed signature), 2 could not do the job.")(intake_cmd)
    app.command("license", help="Detect and classify the license of a model folder (or an SPDX id).")(license_cmd)
    app.command("bom", help="Write the CycloneDX 1.6 ML-BOM of a model folder or a registered NAME@VERSION.")(bom_cmd)
    app.command("doctor", help="Check every evidence blob against the database: missing, altered, orphaned. "
                "Exit 1 when a blob is missing or altered.")(doctor_cmd)
    datasets = typer.Typer(help="Datasets: register a dataset folder with its terms.", no_args_is_help=True)
    datasets.command("register", help="Hash a dataset folder and record it with its source, license and terms.")(
        dataset_register_cmd)
    app.add_typer(datasets, name="dataset")
    artifacts = typer.Typer(help="Artifacts: prompts, tool schemas, parameters, by content.", no_args_is_help=True)
    artifacts.command("add", help="Store a prompt, schema or parameter file by content under NAME.")(artifact_add_cmd)
    app.add_typer(artifacts, name="artifact")


@contextlib.contextmanager
def _registry(actor: str | None = None) -> Iterator[Any]:
    from assay.config import load_settings
    from assay.registry import Registry

    reg = Registry.open(load_settings(actor))
    try:
        yield reg
    finally:
        reg.close()


def _emit(fmt: Fmt, doc: Any, text: str) -> None:
    sys.stdout.write(json.dumps(doc, indent=2) + "\n" if fmt == Fmt.json else text)


def intake_cmd(
    model_dir: Path = typer.Argument(..., help="The model folder (or a single model file)."),
    name: str = typer.Option(..., "--name", help="Registry name, e.g. sentence-transformers/all-MiniLM-L6-v2."),
    publisher: str | None = typer.Option(None, "--publisher", help="Who published it (e.g. the hub organization)."),
    source_url: str | None = typer.Option(None, "--source-url", help="Where it was downloaded from."),
    revision: str | None = typer.Option(None, "--revision", help="The source revision (commit) downloaded."),
    owner: str | None = typer.Option(None, "--owner", help="The person or team answerable for it here."),
    intended_use: str | None = typer.Option(None, "--intended-use", help="What it will be used for."),
    data_sensitivity: str | None = typer.Option(None, "--data-sensitivity",
                                                help="public|internal|confidential|restricted"),
    risk_tier: str | None = typer.Option(None, "--risk-tier", help="low|medium|high|critical"),
    training: Path | None = typer.Option(None, "--training", help="Training record (JSON: base_model, "
                                         "base_model_relation, datasets, anything else kept as evidence)."),
    dataset: list[str] = typer.Option([], "--dataset", help="A registered DATASET[@VERSION] it was trained on; "
                                      "repeatable."),
    signature: Path | None = typer.Option(None, "--signature", help="Signature bundle [default: MODEL_DIR/model.sig]."),
    public_key: Path | None = typer.Option(None, "--public-key", help="Verify the signature with this public key."),
    cert_chain: Path | None = typer.Option(None, "--cert-chain", help="Verify the signature against these CAs."),
    record_rejected: bool = typer.Option(False, "--record-rejected", help="Record a rejected intake as a version "
                                         "with status 'rejected' (for the audit trail)."),
    actor: str | None = _ACTOR,
    fmt: Fmt = _FMT,
) -> None:
    """Bring MODEL_DIR into the registry."""
    from assay.registry import IntakeRequest, intake

    req = IntakeRequest(path=model_dir, name=name, publisher=publisher, source_url=source_url, revision=revision,
                        owner=owner, intended_use=intended_use, data_sensitivity=data_sensitivity,
                        risk_tier=risk_tier, training=training, datasets=tuple(dataset), signature=signature,
                        public_key=public_key, cert_chain=cert_chain, record_rejected=record_rejected)
    with _registry(actor) as reg:
        result = intake(reg, req)
    _emit(fmt, result.to_json(), _render_intake(result))
    raise typer.Exit(result.exit_code)


def _render_intake(r: Any) -> str:
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
    for finding in lic["findings"]:
        lines.append(f"  note       {finding}")
    for reason in r.reasons:
        lines.append(f"  refused    {reason}")
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


def dataset_register_cmd(
    path: Path = typer.Argument(..., help="The dataset folder (or file)."),
    name: str = typer.Option(..., "--name", help="Dataset name."),
    source_url: str | None = typer.Option(None, "--source-url"),
    license: str | None = typer.Option(None, "--license", help="SPDX id or LicenseRef."),
    consent: str | None = typer.Option(None, "--consent", help="The consent basis the data was collected under."),
    retention: int | None = typer.Option(None, "--retention", min=0, help="Retention in days."),
    pii: str | None = typer.Option(None, "--pii", help="yes or no: does it hold personal data?"),
    actor: str | None = _ACTOR,
    fmt: Fmt = _FMT,
) -> None:
    """Register a dataset."""
    from assay.registry import register_dataset

    if pii is not None and pii not in ("yes", "no"):
        raise UsageError("--pii must be yes or no")
    with _registry(actor) as reg:
        d = register_dataset(reg, path, name=name, source_url=source_url, license=license, consent=consent,
                             retention_days=retention, pii=None if pii is None else pii == "yes")
    _emit(fmt, {"schema": "assay.dataset/1.0", **d.to_json()},
          f"{'registered' if d.created else 'already registered'} dataset {d.ref}  {d.identity}  "
          f"({d.file_count} files, {d.total_bytes} bytes)\n")


def artifact_add_cmd(
    file: Path = typer.Argument(..., help="The artifact file."),
    kind: str = typer.Option(..., "--kind", help="prompt|system-prompt|tool-schema|params|policy|eval-set|"
                             "retrieval-config"),
    name: str = typer.Option(..., "--name", help="Artifact name."),
    actor: str | None = _ACTOR,
    fmt: Fmt = _FMT,
) -> None:
    """Add an artifact."""
    from assay.registry import add_artifact

    with _registry(actor) as reg:
        a = add_artifact(reg, file, kind=kind, name=name)
    _emit(fmt, {"schema": "assay.artifact/1.0", **a.to_json()},
          f"{'added' if a.created else 'already stored'} {a.kind} {a.ref}  {a.digest}  ({a.size} bytes)\n")


def license_cmd(path: str = typer.Argument(..., help="A model folder, a license file, or an SPDX id/expression."),
                fmt: Fmt = _FMT) -> None:
    """Detect and classify a license."""
    from assay.card import classify_expression, detect_license, read_card

    from assay.card.license import MAX_LICENSE_BYTES, best_match

    p = Path(path)
    if p.is_dir():
        report = detect_license(p, read_card(p))
    elif p.is_file():  # one license file: recognise its text, then classify what it is
        try:
            with open(p, "rb") as fh:
                text = fh.read(MAX_LICENSE_BYTES).decode("utf-8", "replace")
        except OSError as exc:
            raise UsageError(f"cannot read {p}: {exc.strerror or exc}") from None
        match = best_match(text)
        if match is None:
            raise UsageError(f"{p}: not a license text assay recognises")
        report = classify_expression(match.license_id)
    else:
        report = classify_expression(path)
    doc = {"schema": "assay.license/1.0", "expression": report.expression, "class": report.license_class,
           "name": report.name, "obligations": list(report.obligations),
           "evidence": [{"source": e.source, "spdx": e.spdx, "confidence": round(e.confidence, 3)}
                        for e in report.evidence],
           "findings": [{"code": f.code, "severity": f.severity, "message": f.message} for f in report.findings]}
    lines = [f"{report.expression or 'no license found'}  [{report.license_class}]" +
             (f"  {report.name}" if report.name else "")]
    if report.obligations:
        lines.append(f"  obligations  {', '.join(report.obligations)}")
    lines += [f"  evidence     {e.source}: {e.spdx} ({e.confidence:.0%})" for e in report.evidence]
    lines += [f"  {f.severity:<12} {f.message}" for f in report.findings]
    _emit(fmt, doc, "\n".join(lines) + "\n")


def bom_cmd(target: str = typer.Argument(..., help="A model folder, or a registered NAME@VERSION."),
            output: Path | None = typer.Option(None, "--output", "-o", help="Write to FILE instead of stdout.")) -> None:
    """Write the ML-BOM."""
    p = Path(target)
    if p.exists():
        from assay.bom import BomInput, bom_json
        from assay.card import card_and_license
        from assay.manifest import hash_model

        manifest = hash_model(p)
        card, lic = card_and_license(p)
        text = bom_json(BomInput(name=p.resolve().name, version="0", identity=manifest.identity, manifest=manifest,
                                 card=card, license=lic, publisher=None, source_url=None, revision=None))
    else:
        from assay.registry import show

        with _registry() as reg:
            v = show(reg, target)
            bom = next((e for e in v.evidence if e.kind == "bom"), None)
            if bom is None:
                raise UsageError(f"{v.ref} has no BOM on record")
            text = reg.blobs.get(bom.digest).decode()
    if output is not None:
        try:
            output.write_text(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
        sys.stderr.write(f"wrote {output}\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def doctor_cmd(fmt: Fmt = _FMT) -> None:
    """Check the evidence store."""
    from assay.registry import doctor

    with _registry() as reg:
        problems = doctor(reg)
    bad = [p for p in problems if p.kind != "orphan"]
    text = "".join(f"{p.kind:<8} {p.message}" + (f"  (cited by {'; '.join(p.cited_by)})" if p.cited_by else "") + "\n"
                   for p in problems) + ("evidence store OK\n" if not bad else f"{len(bad)} problem(s)\n")
    _emit(fmt, {"schema": "assay.doctor/1.0", "ok": not bad, "problems": [p.to_json() for p in problems]}, text)
    raise typer.Exit(1 if bad else 0)
