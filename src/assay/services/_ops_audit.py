"""Audit operations on the registry's log: verify, log, proof, checkpoint, rotate-key, seal. Verifying an exported
bundle needs no registry and stays on the caller's machine (``assay.audit``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.services._table import operation
from assay.services.interface import Context, Nothing, Result, Right

_AUDITOR, _ADMIN = Right("auditor"), Right("admin")


def report_result(report: Any, source: str, witness: str = "") -> Result:
    """The Result of a verification (the database's or a bundle's)."""
    lines = [f"audit log {source}: {report.size} entries, root {report.root}, {report.checkpoints} signed "
             "checkpoint(s)" + witness]
    lines += [f"  {p.kind:<16} {p.message}" for p in report.problems]
    lines.append("INTACT" if report.ok else f"TAMPERED: {len(report.problems)} problem(s)")
    return Result(report.to_json(), "\n".join(lines) + "\n", 0 if report.ok else 1)


@dataclass(frozen=True)
class Verify:
    """``assay audit verify`` of the database: ``public_key`` and ``witnessed`` (checkpoint notes) are the caller's."""

    public_key: str | None = None
    witnessed: list[str] | None = None
    said: str = ""


@operation("audit.verify", "Recompute the log and check every signed checkpoint.", Verify, Right("viewer"),
           uploads=("public_key",))
def verify(ctx: Context, p: Verify) -> Result:
    """Verify the audit log (exit 1 tampered)."""
    from assay.registry import audit_log_verifier, verify_audit_log

    reg = ctx.registry()
    verifier = audit_log_verifier(reg.home, ctx.path(p.public_key))
    with reg.snapshot() as session:  # one consistent view: writers may go on meanwhile
        report = verify_audit_log(session, verifier, list(p.witnessed or ()))
    return report_result(report, "(database)", p.said)


@dataclass(frozen=True)
class Log:
    """``assay audit log``."""

    kind: list[str] | None = None
    actor: str | None = None
    env: str | None = None
    release: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


@operation("audit.log", "The entries an incident asks about, each proven to be in the signed log.", Log, _AUDITOR)
def log(ctx: Context, p: Log) -> Result:
    """Query the audit log."""
    from assay.registry import audit_log

    reg = ctx.registry()
    with reg.snapshot() as session:
        entries, more = audit_log(session, reg.home, kinds=tuple(p.kind or ()), actor=p.actor, env=p.env,
                                  release=p.release, since=p.since, until=p.until, limit=p.limit)
    lines = [f"{e['index']:>6}  {str(e['time'])[:19]}  {e['kind']:<18} {e['actor']}  "
             + json.dumps(e["payload"], sort_keys=True, separators=(", ", ": "))[:300] for e in entries]
    if more:
        lines.insert(0, f"(older entries match too: --limit {p.limit} shows the newest; --limit 0 shows all)")
    return Result({"schema": "assay.audit-log/1.0", "entries": entries, "truncated": more},
                  "\n".join(lines) + "\n" if lines else "no entries match\n")


@dataclass(frozen=True)
class Proof:
    """``assay audit proof``."""

    entry: int


@operation("audit.proof", "The inclusion proof of one audit entry.", Proof, _AUDITOR)
def proof(ctx: Context, p: Proof) -> Result:
    """Print an inclusion proof."""
    from assay.registry import audit_proof

    reg = ctx.registry()
    with reg.snapshot() as session:
        doc = audit_proof(session, p.entry)
    pr = doc["proof"]
    return Result(doc, f"entry {p.entry} of {pr['size']}: leaf {doc['leaf']}\n  root {doc['root']}\n"
                  + "".join(f"  {h}\n" for h in pr["hashes"]) + (doc["checkpoint"] or "(no checkpoint covers it yet)\n"))


@operation("audit.checkpoint", "Sign a checkpoint of the log's current head.", Nothing, _AUDITOR, writes=True)
def checkpoint(ctx: Context, p: Nothing) -> Result:
    """Sign a checkpoint (the caller publishes it to a witness)."""
    from assay.registry import sign_audit_checkpoint

    reg = ctx.registry()
    with reg.write() as session:
        row = sign_audit_checkpoint(session, reg.home, reg.actor)
        doc = {"schema": "assay.checkpoint/1.0", "size": row.size, "root": row.root, "note": row.note, "witness": None}
    return Result(doc, row.note)


@operation("audit.rotate-key", "Hand the log to a new signing key (admin).", Nothing, _ADMIN, writes=True)
def rotate_key(ctx: Context, p: Nothing) -> Result:
    """Rotate the audit-log key."""
    from assay.release import rotate_log_key

    doc = rotate_log_key(ctx.registry())
    return Result({"schema": "assay.key-rotated/1.0", **doc},
                  f"the audit log is signed with a new key ({doc['to']}) from entry {doc['entry']} on\n"
                  f"  old public key kept at {doc['retired_public_key']} (hand it to auditors of older checkpoints)\n")


@operation("audit.seal", "Seal the registry rows that have no audit entry (admin).", Nothing, _ADMIN, writes=True)
def seal(ctx: Context, p: Nothing) -> Result:
    """Seal unsealed rows."""
    from assay.release import seal_unsealed_rows

    doc = seal_unsealed_rows(ctx.registry())
    return Result({"schema": "assay.records-sealed/1.0", **doc},
                  "".join(f"sealed {key}\n" for key in doc["sealed"]) + f"{len(doc['sealed'])} row(s) sealed\n")


@dataclass(frozen=True)
class Export:
    """``assay audit export``: ``output`` is the caller's bundle file."""

    output: str


@operation("audit.export", "Write an offline bundle: entries, checkpoints, proofs, evidence, public key.", Export,
           _AUDITOR, writes=True, downloads=("output",))
def export(ctx: Context, p: Export) -> Result:
    """Export the audit bundle (a fresh checkpoint first)."""
    from assay.registry import export_audit_bundle, sign_audit_checkpoint

    reg = ctx.registry()
    with reg.write() as session:
        sign_audit_checkpoint(session, reg.home, reg.actor)
    with reg.snapshot() as session:
        counts = export_audit_bundle(session, reg.blobs, reg.home, ctx.output(p.output))
    doc = {"schema": "assay.audit-export/1.0", "output": p.output, "entries": counts["entries"],
           "checkpoints": counts["checkpoints"], "evidence": counts["evidence"], "missing_evidence": counts["missing"]}
    gone = (f"; {counts['missing']} cited evidence blob(s) are missing from the evidence store, so the bundle will "
            "not verify (run assay doctor)") if counts["missing"] else ""
    return Result(doc, f"wrote {p.output}: {counts['entries']} entries, {counts['checkpoints']} checkpoints, "
                  f"{counts['evidence']} evidence blobs{gone}\n")
