"""``assay audit verify``, ``proof``, ``checkpoint`` and ``export``: the tamper-evident audit log."""

from __future__ import annotations

from assay.cli._parsing import add_actor, add_format, at_least, command, group, path
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
    add_format(verify)

    proof = command(audit, "proof", "Print the inclusion proof of audit entry ENTRY.", proof_cmd)
    proof.add_argument("entry", type=at_least(0), metavar="ENTRY")
    add_format(proof)

    checkpoint = command(audit, "checkpoint", "Sign a checkpoint of the log's current head.", checkpoint_cmd)
    add_actor(checkpoint)
    add_format(checkpoint)

    export = command(audit, "export", "Write an offline bundle: entries, checkpoints, proofs, evidence, public key.",
                     export_cmd)
    export.add_argument("--output", "-o", type=path, required=True, metavar="FILE", help="The bundle to write (.zip).")
    add_actor(export)
    add_format(export)


def _report(report: Any, fmt: str, source: str) -> int:
    lines = [f"audit log {source}: {report.size} entries, root {report.root}, {report.checkpoints} signed "
             "checkpoint(s)"]
    lines += [f"  {p.kind:<16} {p.message}" for p in report.problems]
    lines.append("INTACT" if report.ok else f"TAMPERED: {len(report.problems)} problem(s)")
    emit(fmt, report.to_json(), "\n".join(lines) + "\n")
    return 0 if report.ok else 1


def verify_cmd(args: argparse.Namespace) -> int:
    """Verify the audit log, or an exported bundle."""
    if args.bundle is not None:
        from assay.audit import verify_bundle

        return _report(verify_bundle(args.bundle, public_key=args.public_key), args.fmt, str(args.bundle))
    from assay.registry import audit_log_verifier, verify_audit_log

    with open_registry() as reg:
        verifier = audit_log_verifier(reg.home, args.public_key)
        with reg.snapshot() as session:  # one consistent view: writers may go on meanwhile
            report = verify_audit_log(session, verifier)
    return _report(report, args.fmt, "(database)")


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
        doc = {"schema": "assay.checkpoint/1.0", "size": row.size, "root": row.root, "note": row.note}
    emit(args.fmt, doc, row.note)
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
           "checkpoints": counts["checkpoints"], "evidence": counts["evidence"]}
    emit(args.fmt, doc, f"wrote {args.output}: {counts['entries']} entries, {counts['checkpoints']} checkpoints, "
         f"{counts['evidence']} evidence blobs\n")
    return 0
