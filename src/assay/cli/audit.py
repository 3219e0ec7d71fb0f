"""``assay audit verify``, ``proof``, ``checkpoint`` and ``export``: the tamper-evident audit log."""

from __future__ import annotations

from assay.cli._parsing import add_actor, add_format, at_least, command, group, moment, path
from assay.cli._running import emit, open_registry

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


def _report(report: Any, fmt: str, source: str, witness: str = "") -> int:
    lines = [f"audit log {source}: {report.size} entries, root {report.root}, {report.checkpoints} signed "
             "checkpoint(s)" + witness]
    lines += [f"  {p.kind:<16} {p.message}" for p in report.problems]
    lines.append("INTACT" if report.ok else f"TAMPERED: {len(report.problems)} problem(s)")
    emit(fmt, report.to_json(), "\n".join(lines) + "\n")
    return 0 if report.ok else 1


def verify_cmd(args: argparse.Namespace) -> int:
    """Verify the audit log, or an exported bundle."""
    from assay.audit import witnessed_checkpoints

    witnessed = [note for _, note in witnessed_checkpoints(args.witness)] if args.witness else []
    said = f" (with {len(witnessed)} witnessed at {args.witness})" if args.witness else ""
    if args.bundle is not None:
        from assay.audit import verify_bundle

        said += "" if args.public_key else "; checked with the bundle's own key: pass --public-key to check it " \
            "independently"
        return _report(verify_bundle(args.bundle, public_key=args.public_key, witnessed=witnessed), args.fmt,
                       str(args.bundle), said)
    from assay.registry import audit_log_verifier, verify_audit_log

    with open_registry() as reg:
        verifier = audit_log_verifier(reg.home, args.public_key)
        with reg.snapshot() as session:  # one consistent view: writers may go on meanwhile
            report = verify_audit_log(session, verifier, witnessed)
    return _report(report, args.fmt, "(database)", said)


def proof_cmd(args: argparse.Namespace) -> int:
    """Print an inclusion proof."""
    from assay.registry import audit_proof

    with open_registry() as reg, reg.snapshot() as session:
        doc = audit_proof(session, args.entry)
    p = doc["proof"]
    text = (f"entry {args.entry} of {p['size']}: leaf {doc['leaf']}\n  root {doc['root']}\n"
            + "".join(f"  {h}\n" for h in p["hashes"]) + (doc["checkpoint"] or "(no checkpoint covers it yet)\n"))
    emit(args.fmt, doc, text)
    return 0


def checkpoint_cmd(args: argparse.Namespace) -> int:
    """Sign a checkpoint."""
    from assay.registry import sign_audit_checkpoint

    with open_registry(args.actor) as reg, reg.write() as session:
        row = sign_audit_checkpoint(session, reg.home, reg.actor)
        doc = {"schema": "assay.checkpoint/1.0", "size": row.size, "root": row.root, "note": row.note,
               "witness": None}
    if args.witness is not None:
        from assay.audit import publish_checkpoint

        doc["witness"] = str(publish_checkpoint(args.witness, row.size, row.note))
    emit(args.fmt, doc, row.note + (f"published to {doc['witness']}\n" if doc["witness"] else ""))
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    """Export the audit bundle (a fresh checkpoint first); ``--format json``: ``assay.audit-export/1.0``."""
    from assay.registry import export_audit_bundle, sign_audit_checkpoint

    with open_registry(args.actor) as reg:
        with reg.write() as session:
            sign_audit_checkpoint(session, reg.home, reg.actor)
        with reg.snapshot() as session:
            counts = export_audit_bundle(session, reg.blobs, reg.home, args.output)
    doc = {"schema": "assay.audit-export/1.0", "output": str(args.output), "entries": counts["entries"],
           "checkpoints": counts["checkpoints"], "evidence": counts["evidence"], "missing_evidence": counts["missing"]}
    gone = (f"; {counts['missing']} cited evidence blob(s) are missing from the evidence store, so the bundle will "
            "not verify (run assay doctor)") if counts["missing"] else ""
    emit(args.fmt, doc, f"wrote {args.output}: {counts['entries']} entries, {counts['checkpoints']} checkpoints, "
         f"{counts['evidence']} evidence blobs{gone}\n")
    return 0


def rotate_cmd(args: argparse.Namespace) -> int:
    """Rotate the audit-log key; ``--format json``: ``assay.key-rotated/1.0``."""
    from assay.release import rotate_log_key

    with open_registry(args.actor) as reg:
        doc = rotate_log_key(reg)
    emit(args.fmt, {"schema": "assay.key-rotated/1.0", **doc},
         f"the audit log is signed with a new key ({doc['to']}) from entry {doc['entry']} on\n"
         f"  old public key kept at {doc['retired_public_key']} (hand it to auditors of older checkpoints)\n")
    return 0


def seal_cmd(args: argparse.Namespace) -> int:
    """Seal unsealed rows; ``--format json``: ``assay.records-sealed/1.0``."""
    from assay.release import seal_unsealed_rows

    with open_registry(args.actor) as reg:
        doc = seal_unsealed_rows(reg)
    emit(args.fmt, {"schema": "assay.records-sealed/1.0", **doc},
         "".join(f"sealed {key}\n" for key in doc["sealed"]) + f"{len(doc['sealed'])} row(s) sealed\n")
    return 0


def log_cmd(args: argparse.Namespace) -> int:
    """Query the audit log."""
    import json

    from assay.registry import audit_log

    with open_registry() as reg, reg.snapshot() as session:
        entries, more = audit_log(session, reg.home, kinds=tuple(args.kind), actor=args.actor, env=args.env,
                                  release=args.release, since=args.since, until=args.until, limit=args.limit)
    lines = [f"{e['index']:>6}  {str(e['time'])[:19]}  {e['kind']:<18} {e['actor']}  "
             + json.dumps(e["payload"], sort_keys=True, separators=(", ", ": "))[:300] for e in entries]
    if more:
        lines.insert(0, f"(older entries match too: --limit {args.limit} shows the newest; --limit 0 shows all)")
    emit(args.fmt, {"schema": "assay.audit-log/1.0", "entries": entries, "truncated": more},
         "\n".join(lines) + "\n" if lines else "no entries match\n")
    return 0
