"""Read operations: models, show, lineage, where, artifact and dataset list/show, release show, approvals,
waivers, status, history. Any role may read (``viewer``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.services._table import operation
from assay.services.interface import Context, Nothing, Result, Right

_VIEW = Right("viewer")
_SOURCES = {"card": "model card", "config": "config.json", "training": "training record", "flag": "--dataset"}


@dataclass(frozen=True)
class Models:
    """``assay models``."""

    owner: str | None = None
    license_class: str | None = None
    status: str | None = None


@operation("models", "List registered models with their newest version.", Models, _VIEW)
def models(ctx: Context, p: Models) -> Result:
    """List models."""
    with ctx.reading() as reader:
        rows = reader.list_models(owner=p.owner, license_class=p.license_class, status=p.status)
    return Result({"schema": "assay.models/1.0", "models": [m.to_json() for m in rows]},
                  "".join(f"{m.name}@{m.latest}  {m.status}  scan {m.scan_verdict}  license {m.license_class}  "
                          f"signature {m.signature_status}  owner {m.owner or '-'}  ({m.versions} version(s))\n"
                          for m in rows) or "no models registered\n")


@dataclass(frozen=True)
class Ref:
    """A NAME, NAME@NUMBER or NAME@sha256:PREFIX."""

    ref: str


@operation("show", "Everything known about a model version, evidence listed with digests.", Ref, _VIEW)
def show(ctx: Context, p: Ref) -> Result:
    """Show a version."""
    with ctx.reading() as reader:
        v = reader.show(p.ref)
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
    lines += [f"    {x.relation:<12} {x.kind} {x.name}  ({'registered' if x.registered else 'not registered'}; "
              f"from {_SOURCES.get(x.source, x.source)})" for x in v.parents] or ["    none"]
    lines.append("  evidence")
    lines += [f"    {e.kind:<12} {e.digest}  {e.size:>9}  {e.name}" for e in v.evidence]
    return Result({"schema": "assay.show/1.0", **v.to_json()}, "\n".join(lines) + "\n")


@operation("lineage", "Base models up, derived versions down, and datasets of a model version.", Ref, _VIEW)
def lineage(ctx: Context, p: Ref) -> Result:
    """Show lineage."""
    with ctx.reading() as reader:
        t = reader.lineage(p.ref)
    lines = [f"{t.version}  {t.identity}", "  up (base models)"]
    lines += [f"    {x.relation:<10} {x.name}" + ("" if x.registered else "  (not registered)") for x in t.up] or [
        "    none"]
    lines += [f"    chain      {' <- '.join(path)}" for path in t.up_paths if len(path) > 1]
    lines.append("  datasets")
    lines += [f"    {x.relation:<10} {x.name}" + ("" if x.registered else "  (not registered)")
              for x in t.datasets] or ["    none"]
    lines.append("  down (derived versions)")
    lines += [f"    {x.relation:<10} {x.name}" for x in t.down] or ["    none"]
    return Result({"schema": "assay.lineage/1.0", **t.to_json()}, "\n".join(lines) + "\n")


@dataclass(frozen=True)
class Where:
    """``assay where``."""

    query: str


@operation("where", "Everything that is, contains or derives from a digest or NAME@VERSION.", Where, _VIEW)
def where(ctx: Context, p: Where) -> Result:
    """Find where a digest or version is used."""
    with ctx.reading() as reader:
        hits = reader.where(p.query)
    return Result({"schema": "assay.where/1.0", "query": p.query, "hits": [h.to_json() for h in hits]},
                  "".join(f"{h.kind:<11} {h.ref}  {h.relation}\n" for h in hits) or f"{p.query}: found nowhere\n")


@dataclass(frozen=True)
class ArtifactList:
    """``assay artifact list``."""

    kind: str | None = None


@operation("artifact.list", "Every artifact version.", ArtifactList, _VIEW)
def artifact_list(ctx: Context, p: ArtifactList) -> Result:
    """List artifacts."""
    from assay.registry import list_artifacts

    with ctx.reading() as reader:
        rows = list_artifacts(reader, p.kind)
    return Result({"schema": "assay.artifacts/1.0", "artifacts": rows},
                  "".join(f"{a['artifact']}  {a['kind']}  {a['digest']}  {a['size']} bytes  by {a['created_by']}\n"
                          for a in rows) or "no artifacts\n")


@operation("dataset.list", "Every registered dataset version.", Nothing, _VIEW)
def dataset_list(ctx: Context, p: Nothing) -> Result:
    """List datasets."""
    from assay.registry import list_datasets

    with ctx.reading() as reader:
        rows = list_datasets(reader)
    return Result({"schema": "assay.datasets/1.0", "datasets": rows},
                  "".join(f"{d['dataset']}  {d['identity']}  license {d['license'] or '-'}  pii {d['pii'] or '-'}  "
                          f"({d['files']} files)\n" for d in rows) or "no datasets\n")


@operation("artifact.show", "An artifact version, the releases that include it and where those run.", Ref, _VIEW)
def artifact_show(ctx: Context, p: Ref) -> Result:
    """Show an artifact."""
    from assay.registry import artifact_report

    with ctx.reading() as reader:
        a = artifact_report(reader, p.ref)
    return Result({"schema": "assay.artifact/1.0", **a},
                  f"{a['artifact']}  {a['kind']}  {a['digest']}\n  size {a['size']} bytes, {a['media_type']}; "
                  f"added {a['created_at'][:19]} by {a['created_by']}\n" + _used_by(a["releases"]))


@operation("dataset.show", "A dataset version, the models trained on it, their releases and where those run.", Ref,
           _VIEW)
def dataset_show(ctx: Context, p: Ref) -> Result:
    """Show a dataset."""
    from assay.registry import dataset_report

    with ctx.reading() as reader:
        d = dataset_report(reader, p.ref)
    return Result({"schema": "assay.dataset/1.0", **d},
                  f"{d['dataset']}  {d['identity']}\n  {d['files']} files, {d['bytes']} bytes; source "
                  f"{d['source_url'] or '-'}; license {d['license'] or '-'}; consent {d['consent'] or '-'}; "
                  f"retention {d['retention_days'] if d['retention_days'] is not None else '-'} days; pii "
                  f"{d['pii'] or '-'}\n  registered {d['created_at'][:19]} by {d['created_by']}\n  models\n"
                  + ("".join(f"    {m['model']}  ({m['relation']})\n" for m in d["models"]) or "    none\n")
                  + _used_by(d["releases"]))


def _used_by(releases: list[dict[str, Any]]) -> str:
    lines = ["  releases"]
    for r in releases:
        where = ", ".join(f"{d['environment']}#{d['seq']} {d['state']}" for d in r["deployments"]) or "never deployed"
        lines.append(f"    {r['release']} ({r['model']}): {where}")
    return "\n".join(lines if releases else [*lines, "    none"]) + "\n"


@dataclass(frozen=True)
class Status:
    """``assay status``."""

    env: str | None = None
    at: datetime | None = None


def _deployment_line(d: dict[str, Any]) -> str:
    return (f"{d['release']} ({d['model']}){' REVOKED' if d['revoked'] else ''} since {d['since'][:19]} by "
            f"{d['by']}, {d['action']}, gate {'passed' if d['gate_passed'] else 'FAILED'}, evidence {d['evidence']}")


@operation("status", "What runs where, since when, on what evidence.", Status, _VIEW)
def status(ctx: Context, p: Status) -> Result:
    """Show status."""
    from assay.release import status as read

    rows = read(ctx.registry(), p.env, at=p.at)
    lines = []
    for r in rows:
        lines.append(f"{r['environment']:<12} " + (_deployment_line(r["active"]) if r["active"] else "nothing deployed"))
        if r["canary"]:
            lines.append(f"{'':<12} canary {r['canary']['traffic_percent']}%: {_deployment_line(r['canary'])}")
    at = None if p.at is None else p.at.isoformat()
    return Result({"schema": "assay.status/1.0", "at": at, "environments": rows},
                  (f"as at {at}\n" if at else "") + "\n".join(lines) + "\n")


@dataclass(frozen=True)
class History:
    """``assay history``."""

    env: str


@operation("history", "Every deployment, canary and rollback of an environment.", History, _VIEW)
def history(ctx: Context, p: History) -> Result:
    """Show history."""
    from assay.release import history as read

    rows = read(ctx.registry(), p.env)
    text = "".join(f"{d['seq']:>4}  {d['since'][:19]}  {d['action']:<8} {d['release']} ({d['model']}) "
                   f"{d['traffic_percent']}%  by {d['by']}\n" for d in rows) or f"no deployments in {p.env}\n"
    return Result({"schema": "assay.history/1.0", "environment": p.env, "deployments": rows}, text)


@dataclass(frozen=True)
class ReleaseShow:
    """``assay release show``."""

    name: str


@operation("release.show", "Everything about a release.", ReleaseShow, _VIEW)
def release_show(ctx: Context, p: ReleaseShow) -> Result:
    """Show a release."""
    from assay.release import release_report

    d = release_report(ctx.registry(), p.name)
    revoked = d["revoked"]
    lines = [f"{d['release']}  {d['digest']}" + (f"  REVOKED: {revoked['reason']}" if revoked else ""),
             f"  created         {d['created_at'][:19]} by {d['created_by']}" + (f"; note: {d['note']}" if d["note"]
                                                                                  else "")]
    lines += [f"  {m['role'] or 'model':<15} {m['model']}  {m['identity']}  scan {m['scan']}, signature "
              f"{m['signature']}, license {m['license'] or '-'} [{m['license_class']}], owner {m['owner'] or '-'}, "
              f"risk {m['risk_tier'] or '-'}" for m in d["models"]]
    lines += [f"  params          {d['params']}"] if d["params"] else []
    lines += [f"  {a['kind']:<15} {a['name']}  {a['digest']}" for a in d["artifacts"]]
    lines.append("  running in      " + (", ".join(f"{e} ({r})" for e, r in d["active_in"].items()) or "nowhere"))
    lines.append("  approvals")
    lines += [f"    {a['environment']:<12} {a['approver']}" + (f" ({a['role']})" if a["role"] else "")
              + f"  {a['at'][:19]}" + (f"  {a['comment']}" if a["comment"] else "") for a in d["approvals"]] or \
        ["    none"]
    lines.append("  waivers")
    lines += [f"    {w['environment']:<12} {w['rule']} by {w['approver']} until {w['expires_at'][:19]}"
              + (" (expired)" if w["expired"] else "") + f": {w['reason']}" for w in d["waivers"]] or ["    none"]
    lines.append("  gates")
    lines += [f"    {g['environment']:<12} #{g['seq']} {g['action']:<8} {g['at'][:19]} by {g['by']}: "
              + ("passed" if g["gate_passed"] else "FAILED") + (f" (not passed: {', '.join(g['not_passed'])})"
                                                                  if g["not_passed"] else "")
              for g in d["deployments"]]
    lines += [f"    {r['environment'] or '-':<12} {r['kind']:<16} {r['at'][:19]} by {r['by']}: refused "
              f"({', '.join(r['failed'])})" for r in d["refusals"]]
    if not d["deployments"] and not d["refusals"]:
        lines.append("    never judged for a deployment")
    return Result({"schema": "assay.release-show/1.0", **d}, "\n".join(lines) + "\n")


@dataclass(frozen=True)
class Listing:
    """``assay approvals`` and ``assay waivers``."""

    release: str | None = None
    env: str | None = None


@operation("approvals", "Every approval.", Listing, _VIEW)
def approvals(ctx: Context, p: Listing) -> Result:
    """List approvals."""
    from assay.release import approvals as read

    rows = read(ctx.registry(), release=p.release, env=p.env)
    text = "".join(f"{a['at'][:19]}  {a['release']}  {a['environment']}  {a['approver']}"
                   + (f" ({a['role']})" if a["role"] else "") + (f"  {a['comment']}" if a["comment"] else "")
                   + "\n" for a in rows)
    return Result({"schema": "assay.approvals/1.0", "approvals": rows}, text or "no approvals\n")


@operation("waivers", "Every waiver.", Listing, _VIEW)
def waivers(ctx: Context, p: Listing) -> Result:
    """List waivers."""
    from assay.release import waivers as read

    rows = read(ctx.registry(), release=p.release, env=p.env)
    text = "".join(f"{w['at'][:19]}  {w['release']}  {w['environment']}  {w['rule']}  by {w['approver']} "
                   f"until {w['expires_at'][:19]}" + (" (expired)" if w["expired"] else "")
                   + f"  {w['reason']}\n" for w in rows)
    return Result({"schema": "assay.waivers/1.0", "waivers": rows}, text or "no waivers\n")
