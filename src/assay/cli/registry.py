"""``assay intake``, ``model set``, ``dataset register``, ``artifact add``, ``license``, ``bom`` and ``doctor``: the registry from
the command line. Parses, calls the registry, renders. The read commands (``models``, ``show``, ``lineage``,
``where``) are in ``reads.py``."""

from __future__ import annotations

import sys

from assay.cli._parsing import add_actor, add_format, at_least, command, group, path
from assay.cli._running import emit, operation_command
from assay.errors import UsageError

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(subparsers: Any) -> None:
    """Add the registry commands to the root parser's ``subparsers``."""
    intake = command(subparsers, "intake", "Inspect a model folder and record it as an immutable registry version. "
                     "Exit codes: 0 accepted, 1 rejected (scan findings or a failed signature), 2 could not do the "
                     "job.", intake_cmd)
    intake.add_argument("model_dir", type=path, metavar="MODEL_DIR", help="The model folder (or a single model "
                        "file).")
    intake.add_argument("--name", required=True, help="Registry name, e.g. sentence-transformers/all-MiniLM-L6-v2.")
    intake.add_argument("--publisher", help="Who published it (e.g. the hub organization).")
    intake.add_argument("--source-url", help="Where it was downloaded from.")
    intake.add_argument("--revision", help="The source revision (commit) downloaded.")
    intake.add_argument("--owner", help="The person or team answerable for it here.")
    intake.add_argument("--intended-use", help="What it will be used for.")
    intake.add_argument("--data-sensitivity", help="public|internal|confidential|restricted")
    intake.add_argument("--risk-tier", help="low|medium|high|critical")
    intake.add_argument("--training", type=path, metavar="FILE", help="Training record (JSON: base_model, base_model_relation, "
                        "datasets, anything else kept as evidence).")
    intake.add_argument("--dataset", action="append", default=[], metavar="DATASET[@VERSION]",
                        help="A registered DATASET[@VERSION] it was trained on; repeatable.")
    intake.add_argument("--signature", type=path, metavar="FILE", help="Signature bundle [default: MODEL_DIR/model.sig].")
    intake.add_argument("--public-key", type=path, metavar="FILE", help="Verify the signature with this public key.")
    intake.add_argument("--cert-chain", type=path, metavar="FILE", help="Verify the signature against these CAs.")
    intake.add_argument("--record-rejected", action="store_true", help="Record a rejected intake as a version with "
                        "status 'rejected' (for the audit trail).")
    intake.add_argument("--keep-max-bytes", type=at_least(0), metavar="BYTES", help="Keep a copy of an accepted "
                        "model's files in the store when they total at most BYTES (for assay pull and rollback; "
                        "0: keep none) [default: $ASSAY_KEEP_MAX_BYTES, else 4 GiB].")
    add_actor(intake)
    add_format(intake)

    pull = command(subparsers, "pull", "Restore the files of NAME@VERSION from the copy intake kept into DIR (new or "
                   "empty), each checked against its digest and the whole against the version's identity.", pull_cmd)
    pull.add_argument("ref", metavar="NAME@VERSION")
    pull.add_argument("target", type=path, metavar="DIR")
    add_format(pull)

    license_ = command(subparsers, "license", "Detect and classify the license of a model folder (or an SPDX id).",
                       license_cmd)
    license_.add_argument("target", metavar="PATH", help="A model folder, a license file, or an SPDX id/expression.")
    add_format(license_)

    bom = command(subparsers, "bom", "Write the CycloneDX 1.6 ML-BOM of a model folder or a registered "
                  "NAME@VERSION.", bom_cmd)
    bom.add_argument("target", metavar="TARGET", help="A model folder, or a registered NAME@VERSION.")
    bom.add_argument("--output", "-o", type=path, metavar="FILE", help="Write to FILE instead of stdout.")
    bom.add_argument("--format", "-f", dest="fmt", choices=("text", "json"), default="text",
                     help="text: the BOM itself (or, with --output, 'wrote FILE' on stderr); json: a result "
                     "document with the target, the file written, the BOM's digest and, without --output, the "
                     "BOM [default: text].")

    doctor = command(subparsers, "doctor", "Check every blob any row or audit entry cites (evidence, artifacts, "
                     "dataset manifests, parameters, deployment evidence, policies, log keys, kept model files) against "
                     "its digest, list blobs nothing cites and .tmp- leftovers, check every registry row against the "
                     "audit entry that wrote it, and the SQLite file against SQLite's own check. Exit 1 when a blob is "
                     "missing or altered, a row disagrees or the file is damaged.", doctor_cmd)
    add_format(doctor)

    models = group(subparsers, "model", "Models: change a model's attributes on the record.")
    model_set = command(models, "set", "Change a model's owner, risk tier, intended use or data sensitivity; the audit "
                        "log records old and new values and who changed them. A risk-tier change re-opens approvals "
                        "(the gate counts only those given after it).", model_set_cmd)
    model_set.add_argument("name", metavar="NAME", help="The registered model.")
    model_set.add_argument("--owner", help="The person or team answerable for it here.")
    model_set.add_argument("--intended-use", help="What it will be used for.")
    model_set.add_argument("--data-sensitivity", help="public|internal|confidential|restricted")
    model_set.add_argument("--risk-tier", help="low|medium|high|critical")
    add_actor(model_set)
    add_format(model_set)

    datasets = group(subparsers, "dataset", "Datasets: register a dataset folder with its terms.")
    dataset = command(datasets, "register", "Hash a dataset folder and record it with its source, license and "
                      "terms.", dataset_register_cmd)
    dataset.add_argument("path", type=path, metavar="PATH", help="The dataset folder (or file).")
    dataset.add_argument("--name", required=True, help="Dataset name.")
    dataset.add_argument("--source-url")
    dataset.add_argument("--license", help="SPDX id or LicenseRef.")
    dataset.add_argument("--consent", help="The consent basis the data was collected under.")
    dataset.add_argument("--retention", type=at_least(0), metavar="DAYS", help="Retention in days.")
    dataset.add_argument("--pii", help="yes or no: does it hold personal data?")
    add_actor(dataset)
    add_format(dataset)

    datasets_list = command(datasets, "list", "Every registered dataset version.", operation_command("dataset.list"))
    add_format(datasets_list)
    dataset_show = command(datasets, "show", "A dataset version, the models trained on it, their releases and "
                           "where those run.", operation_command("dataset.show"))
    dataset_show.add_argument("ref", metavar="NAME[@VERSION]")
    add_format(dataset_show)

    artifacts = group(subparsers, "artifact", "Artifacts: prompts, tool schemas, parameters, by content.")
    artifact = command(artifacts, "add", "Store a prompt, schema or parameter file by content under NAME.",
                       artifact_add_cmd)
    artifact.add_argument("file", type=path, metavar="FILE", help="The artifact file.")
    artifact.add_argument("--kind", required=True, help="prompt|system-prompt|tool-schema|params|policy|eval-set|"
                          "retrieval-config")
    artifact.add_argument("--name", required=True, help="Artifact name.")
    add_actor(artifact)
    add_format(artifact)
    artifact_list = command(artifacts, "list", "Every artifact version.", operation_command("artifact.list"))
    artifact_list.add_argument("--kind", help="Only artifacts of this kind.")
    add_format(artifact_list)
    artifact_show = command(artifacts, "show", "An artifact version, the releases that include it and where those "
                            "run.", operation_command("artifact.show"))
    artifact_show.add_argument("ref", metavar="NAME[@VERSION]")
    add_format(artifact_show)


intake_cmd = operation_command("intake")
dataset_register_cmd = operation_command("dataset.register")
artifact_add_cmd = operation_command("artifact.add")
model_set_cmd = operation_command("model.set")
doctor_cmd = operation_command("doctor")


pull_cmd = operation_command("pull")


def license_cmd(args: argparse.Namespace) -> int:
    """Detect and classify a license."""
    from pathlib import Path

    from assay.card import MAX_LICENSE_BYTES, best_match, classify_expression, detect_license, read_card

    p = Path(args.target)
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
        report = classify_expression(args.target)
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
    emit(args.fmt, doc, "\n".join(lines) + "\n")
    return 0


def bom_cmd(args: argparse.Namespace) -> int:
    """Write the ML-BOM of a model folder (here) or of a registered NAME@VERSION (the registry's, or the server's);
    ``--format json`` reports what was written (``assay.bom-result/1.0``)."""
    from pathlib import Path

    from assay.services import bom_result, execute

    target: str = args.target
    output: Path | None = args.output
    p = Path(target)
    if p.exists():
        from assay.bom import BomInput, bom_json
        from assay.card import card_and_license
        from assay.manifest import hash_model

        manifest = hash_model(p)
        card, lic = card_and_license(p)
        text = bom_json(BomInput(name=p.resolve().name, version="0", identity=manifest.identity, manifest=manifest,
                                 card=card, license=lic, publisher=None, source_url=None, revision=None))
        text = text if text.endswith("\n") else text + "\n"
        if output is not None:
            try:
                output.write_text(text)
            except OSError as exc:
                raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
        result = bom_result(target, None if output is None else str(output), text)
    else:
        result = execute("bom", {"target": target, "output": output})
    if output is not None and args.fmt == "text":
        sys.stderr.write(f"wrote {output}\n")
    if args.fmt == "json":
        emit("json", result.doc, "")
    elif output is None:
        sys.stdout.write(result.text)
    return 0
