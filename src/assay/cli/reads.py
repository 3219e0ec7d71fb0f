"""``assay models``, ``show``, ``lineage`` and ``where``: the registry's answers on the command line.

These are the commands typed during an incident: they read through the registry's one read path (``Reader``
and the reference resolver) on a DB-API connection of their own, without importing SQLAlchemy
(``registry/_sql.py`` says why).
"""

from __future__ import annotations

import argparse

from assay.cli._parsing import add_format, command
from assay.cli._running import emit

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    from typing import Any

HELP = {
    "models": "List registered models with their newest version.",
    "show": "Everything known about NAME[@VERSION], evidence listed with digests.",
    "lineage": "Base models up, derived versions down, and datasets of NAME[@VERSION].",
    "where": "Every version, dataset, artifact and evidence that is, contains or derives from DIGEST or NAME@VERSION.",
}
"""The read commands and their one-line help."""
_SOURCES = {"card": "model card", "config": "config.json", "training": "training record", "flag": "--dataset"}


def register(subparsers: Any) -> None:
    """Add the read commands to the root parser's ``subparsers``."""
    for name, help_text in HELP.items():
        parser = command(subparsers, name, help_text, _command(name))
        if name == "models":
            parser.add_argument("--owner", help="Only models with this owner.")
            parser.add_argument("--license-class", help="Only models whose newest version has this license class.")
            parser.add_argument("--status", choices=("accepted", "rejected"), help="Status of the newest version.")
        elif name == "where":
            parser.add_argument("query", metavar="QUERY", help="A digest (sha256:HEX or 8+ hex digits) or NAME@VERSION.")
        else:
            parser.add_argument("ref", metavar="REF", help="NAME, NAME@NUMBER or NAME@sha256:PREFIX.")
        add_format(parser)


def _command(name: str) -> Any:
    return lambda args: _run(name, args)


def _run(command: str, args: argparse.Namespace) -> int:
    from assay.config import load_settings
    from assay.registry import Reader, Sql

    with Sql.connect(load_settings().database_url) as sql:  # no SQLAlchemy: see registry/_sql.py
        reader = Reader(sql)
        if command == "models":
            rows = reader.list_models(owner=args.owner, license_class=args.license_class, status=args.status)
            doc = {"schema": "assay.models/1.0", "models": [m.to_json() for m in rows]}
            text = "".join(f"{m.name}@{m.latest}  {m.status}  scan {m.scan_verdict}  license {m.license_class}  "
                           f"signature {m.signature_status}  owner {m.owner or '-'}  ({m.versions} version(s))\n"
                           for m in rows) or "no models registered\n"
        elif command == "show":
            v = reader.show(args.ref)
            doc, text = {"schema": "assay.show/1.0", **v.to_json()}, _show_text(v)
        elif command == "lineage":
            t = reader.lineage(args.ref)
            doc, text = {"schema": "assay.lineage/1.0", **t.to_json()}, _lineage_text(t)
        else:
            hits = reader.where(args.query)
            doc = {"schema": "assay.where/1.0", "query": args.query, "hits": [h.to_json() for h in hits]}
            text = "".join(f"{h.kind:<11} {h.ref}  {h.relation}\n" for h in hits) or f"{args.query}: found nowhere\n"
    emit(args.fmt, doc, text)
    return 0


def _show_text(v: Any) -> str:
    card = v.card
    lines = [f"{v.ref}  {v.status}" + (f" ({'; '.join(v.status_reasons)})" if v.status_reasons else ""),
             f"  identity        {v.identity}",
             f"  owner           {v.owner or '-'}   risk tier {v.risk_tier or '-'}   data {v.data_sensitivity or '-'}",
             f"  intended use    {v.intended_use or '-'}",
             f"  source          {v.source_url or '-'}  publisher {v.publisher or '-'}  revision {v.revision or '-'}",
             f"  files           {v.file_count} ({v.total_bytes} bytes); formats {', '.join(v.formats) or '-'}",
             f"  scan            {v.scan_verdict} (findings: "
             + (", ".join(f"{n} {k}" for k, n in v.scan_counts.items() if n) or "none") + ")",
             f"  license         {v.license_expression or '-'} [{v.license_class}]"
             + (f" obligations: {', '.join(v.license_obligations)}" if v.license_obligations else ""),
             f"  signature       {v.signature_status}" + (f" by {v.signer}" if v.signer else ""),
             f"  card            {card.get('pipeline_tag') or '-'} / {card.get('library_name') or '-'}: "
             f"{(card.get('summary') or '-')[:100]}",
             f"  recorded        {v.created_at:%Y-%m-%d %H:%M:%S} by {v.created_by}"]
    if v.missing:
        lines.append(f"  missing         {', '.join(v.missing)}")
    lines.append("  lineage")
    lines += [f"    {p.relation:<12} {p.kind} {p.name}  ({'registered' if p.registered else 'not registered'}; "
              f"from {_SOURCES.get(p.source, p.source)})" for p in v.parents] or ["    none"]
    lines.append("  evidence")
    lines += [f"    {e.kind:<12} {e.digest}  {e.size:>9}  {e.name}" for e in v.evidence]
    return "\n".join(lines) + "\n"


def _lineage_text(t: Any) -> str:
    lines = [f"{t.version}  {t.identity}", "  up (base models)"]
    lines += [f"    {x.relation:<10} {x.name}" + ("" if x.registered else "  (not registered)") for x in t.up] or [
        "    none"]
    lines += [f"    chain      {' <- '.join(p)}" for p in t.up_paths if len(p) > 1]
    lines.append("  datasets")
    lines += [f"    {x.relation:<10} {x.name}" + ("" if x.registered else "  (not registered)")
              for x in t.datasets] or ["    none"]
    lines.append("  down (derived versions)")
    lines += [f"    {x.relation:<10} {x.name}" for x in t.down] or ["    none"]
    return "\n".join(lines) + "\n"
