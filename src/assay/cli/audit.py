"""``assay audit verify``, ``proof``, ``checkpoint`` and ``export``: the tamper-evident audit log."""

from __future__ import annotations

from assay.cli._parsing import add_actor, add_format, at_least, command, group, moment, path
from assay.cli._running import emit, operation_command

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(subparsers: Any) -> None:
    """Add ``assay audit`` and its commands to the root parser's ``subparsers``."""
    audit = group(subparsers, "audit", "The tamper-evident audit log.")
    verify = command(audit, "verify", "Recompute the log and check every signed checkpoint (or an exported "
                     "bundle, with no database). Exit 0 intact, 1 tampered, 2 could not verify.", verify_cmd)
    verify.add_argument("--bundle", type=path, metavar="FILE", help="Verify an exported bundle, with no database.")
    verify.add_argument("--public-key", type=path, metavar="FILE", help="The log's public key (PEM), obtained "
                        "separately [default: the bundle's own].")
    verify.add_argument("--witness", type=path, metavar="DIR", help="Also check against every checkpoint published "
                        "to this witness folder (catches a tail cut off together with its checkpoints).")
    add_format(verify)

    log = command(audit, "log", "The entries an incident asks about (who did what, where, when), oldest first, "
                  "each proven to be in the signed log; filters combine. Exit 1 when the log was changed outside "
                  "assay.", log_cmd)
    log.add_argument("--kind", action="append", default=[], metavar="KIND", help="Only entries of KIND (e.g. "
                     "promote, rollback, approval, waiver, release-revoked, intake); repeatable.")
    log.add_argument("--actor", help="Only entries written by this actor.")
    log.add_argument("--env", help="Only entries about this environment.")
    log.add_argument("--release", help="Only entries about this release.")
    log.add_argument("--since", type=moment(), metavar="TIME", help="Only entries at or after TIME (ISO 8601 or "
                     "YYYY-MM-DD; UTC unless it says otherwise).")
    log.add_argument("--until", type=moment(end_of_day=True), metavar="TIME", help="Only entries at or before TIME "
                     "(a bare date: through that day).")
    log.add_argument("--limit", type=at_least(0), default=200, metavar="N", help="Show the newest N that match; 0: "
                     "all [default: 200].")
    add_format(log)

    proof = command(audit, "proof", "Print the inclusion proof of audit entry ENTRY.", proof_cmd)
    proof.add_argument("entry", type=at_least(0), metavar="ENTRY")
    add_format(proof)

    checkpoint = command(audit, "checkpoint", "Sign a checkpoint of the log's current head.", checkpoint_cmd)
    checkpoint.add_argument("--witness", type=path, metavar="DIR", help="Publish it to this witness folder (one "
                            "file per size, never replaced; ASSAY_WITNESS publishes every checkpoint).")
    add_actor(checkpoint)
    add_format(checkpoint)

    rotate = command(audit, "rotate-key", "Hand the log to a new signing key (admin): recorded in the log, signed by "
                     "both keys; the old public key is kept for old checkpoints.", rotate_cmd)
    add_actor(rotate)
    add_format(rotate)

    seal = command(audit, "seal", "Seal the registry rows that have no audit entry (admin), such as every row of a "
                   "registry made before rows were sealed; lists them. Gates act on no unsealed row.", seal_cmd)
    add_actor(seal)
    add_format(seal)

    export = command(audit, "export", "Write an offline bundle: entries, checkpoints, proofs, evidence, public key.",
                     export_cmd)
    export.add_argument("--output", "-o", type=path, required=True, metavar="FILE", help="The bundle to write (.zip).")
    add_actor(export)
    add_format(export)


def verify_cmd(args: argparse.Namespace) -> int:
    """Verify the audit log (through the services: the embedded one or the server's), or an exported bundle."""
    from assay.audit import witnessed_checkpoints

    witnessed = [note for _, note in witnessed_checkpoints(args.witness)] if args.witness else []
    said = f" (with {len(witnessed)} witnessed at {args.witness})" if args.witness else ""
    if args.bundle is not None:
        from assay.audit import verify_bundle
        from assay.services import report_result

        said += "" if args.public_key else "; checked with the bundle's own key: pass --public-key to check it " \
            "independently"
        result = report_result(verify_bundle(args.bundle, public_key=args.public_key, witnessed=witnessed),
                               str(args.bundle), said)
        emit(args.fmt, result.doc, result.text)
        return result.exit_code
    return operation_command("audit.verify", lambda a, values: values.update(witnessed=witnessed, said=said))(args)


def checkpoint_cmd(args: argparse.Namespace) -> int:
    """Sign a checkpoint; ``--witness`` publishes it from this machine."""
    from assay.services import execute

    result = execute("audit.checkpoint", {}, actor=args.actor)
    doc = dict(result.doc)
    if args.witness is not None:
        from assay.audit import publish_checkpoint

        doc["witness"] = str(publish_checkpoint(args.witness, doc["size"], doc["note"]))
    emit(args.fmt, doc, result.text + (f"published to {doc['witness']}\n" if doc["witness"] else ""))
    return result.exit_code


proof_cmd = operation_command("audit.proof")
rotate_cmd = operation_command("audit.rotate-key")
seal_cmd = operation_command("audit.seal")
log_cmd = operation_command("audit.log")


export_cmd = operation_command("audit.export")
