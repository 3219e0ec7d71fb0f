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


def catalog_command(what: str) -> Any:
    """The function of ``artifact list|show`` or ``dataset list|show`` (registered with the groups they extend)."""
    return lambda args: _catalog(what, args)


def _catalog(what: str, args: argparse.Namespace) -> int:
    from assay.config import load_settings
    from assay.registry import Reader, Sql, artifact_report, dataset_report, list_artifacts, list_datasets

    with Sql.connect(load_settings().database_url) as sql:
        reader = Reader(sql)
        if what == "artifact-list":
            rows = list_artifacts(reader, args.kind)
            doc: dict[str, Any] = {"schema": "assay.artifacts/1.0", "artifacts": rows}
            text = "".join(f"{a['artifact']}  {a['kind']}  {a['digest']}  {a['size']} bytes  by {a['created_by']}\n"
                           for a in rows) or "no artifacts\n"
        elif what == "dataset-list":
            rows = list_datasets(reader)
            doc = {"schema": "assay.datasets/1.0", "datasets": rows}
            text = "".join(f"{d['dataset']}  {d['identity']}  license {d['license'] or '-'}  pii {d['pii'] or '-'}  "
                           f"({d['files']} files)\n" for d in rows) or "no datasets\n"
        elif what == "artifact-show":
            a = artifact_report(reader, args.ref)
            doc = {"schema": "assay.artifact/1.0", **a}
            text = (f"{a['artifact']}  {a['kind']}  {a['digest']}\n  size {a['size']} bytes, {a['media_type']}; "
                    f"added {a['created_at'][:19]} by {a['created_by']}\n" + _used_by(a["releases"]))
        else:
            d = dataset_report(reader, args.ref)
            doc = {"schema": "assay.dataset/1.0", **d}
            text = (f"{d['dataset']}  {d['identity']}\n  {d['files']} files, {d['bytes']} bytes; source "
                    f"{d['source_url'] or '-'}; license {d['license'] or '-'}; consent {d['consent'] or '-'}; "
                    f"retention {d['retention_days'] if d['retention_days'] is not None else '-'} days; pii "
                    f"{d['pii'] or '-'}\n  registered {d['created_at'][:19]} by {d['created_by']}\n  models\n"
                    + ("".join(f"    {m['model']}  ({m['relation']})\n" for m in d["models"]) or "    none\n")
                    + _used_by(d["releases"]))
    emit(args.fmt, doc, text)
    return 0


def _used_by(releases: list[dict[str, Any]]) -> str:
    lines = ["  releases"]
    for r in releases:
        where = ", ".join(f"{d['environment']}#{d['seq']} {d['state']}" for d in r["deployments"]) or "never deployed"
        lines.append(f"    {r['release']} ({r['model']}): {where}")
    return "\n".join(lines if releases else [*lines, "    none"]) + "\n"
