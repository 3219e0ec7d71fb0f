"""Release gates and the audit log against the issue's targets, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/release_bench.py [--repeat 3] [--appends 5000] [--verify-entries 1000000]
                                                 [--quick] [--skip-postgres] [--json FILE]

Targets (the issue): gate evaluation under 10 ms per release with 30 rules; audit append at least 2,000
entries/s on SQLite; ``audit verify`` of 1,000,000 entries under 10 s; proofs O(log n).

On a SQLite file in a temporary ASSAY_HOME and on a fresh ``assay_bench_<random>`` PostgreSQL database
(127.0.0.1:5432, dropped at the end; skipped with a note when unreachable) it times: ``evaluate`` of a 30-rule
policy (the 19 default rules + 11 below) on ``example_evidence()``; ``gate_check`` of a real release (a signed
model taken in, released, approved by two people, promoted through dev and staging) for production; audit
appends one transaction each, ``auditlog.append`` alone and ``Registry.log`` (append + signed checkpoint, what
every CLI state change does); then, the log emptied, a bulk fill to --verify-entries (real bodies and leaves,
``audit_state`` kept in step) with signed checkpoints at 1e3, 1e4, 1e5, half way and the end, ``auditlog.proof``
timed as the fill passes each power of ten (so the proof uses that size) beside ``MemoryTree`` proofs, and
finally ``auditlog.verify`` from the database and ``verify_log`` on the same entries in memory.
--quick is --verify-entries 100000 --appends 1000. Nothing here asserts: it measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHUNK = 20_000
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from pg import open_registry, throwaway_postgres  # noqa: E402  (benchmarks/pg.py, beside this file)

EXTRA_RULES = r"""
  - {id: no-pickle-scan-rules, severity: deny, description: No scanner rule about pickles fired at any severity,
     expr: '!evidence.scan.rules.exists(r, r.startsWith("pickle"))'}
  - {id: few-medium-low-findings, severity: warn, environments: [production], description: At most ten medium
       and low findings, expr: 'evidence.scan.counts.medium + evidence.scan.counts.low <= 10'}
  - {id: signature-method-known, severity: deny, description: A verified signature used a known method,
     expr: 'evidence.signature.status != "verified" || evidence.signature.method in ["key", "certificate", "sigstore"]'}
  - {id: obligations-understood, severity: warn, description: Legal has a process for every license obligation,
     expr: 'evidence.license.obligations.all(o, o in ["attribution", "notice", "share-alike", "state-changes"])'}
  - {id: eval-values-meet-thresholds, severity: deny, description: Eval values meet their thresholds,
     expr: 'evidence.evals.all(e, e.value == null || e.threshold == null || e.value >= e.threshold)'}
  - {id: security-approval-production, severity: deny, environments: [production], description: Production needs
       a security approver, expr: '"security" in evidence.approvals.roles',
     message: "approver roles are {{ evidence.approvals.roles }}; security is missing"}
  - {id: owner-not-approver, severity: deny, description: The model owner does not approve its own model,
     expr: '!(evidence.model.owner in evidence.approvals.approvers)'}
  - {id: identity-is-sha256, severity: deny, description: The model identity is a full sha256 digest,
     expr: 'evidence.model.identity.startsWith("sha256:") && size(evidence.model.identity) == 71'}
  - {id: artifact-digests, severity: deny, description: Every release artifact is pinned by a sha256 digest,
     expr: 'evidence.artifacts.all(a, a.digest.matches("^sha256:[0-9a-f]{64}$"))'}
  - {id: card-bases-in-lineage, severity: warn, description: Every base model the card names is in the lineage,
     expr: 'evidence.card.base_models.all(b, b in evidence.lineage.base_models)'}
  - {id: datasets-declared, severity: warn, description: Training data is declared by the card or the lineage,
     expr: 'size(evidence.lineage.datasets) > 0 || size(evidence.card.datasets) > 0'}
"""


def bench_policy():  # noqa: ANN201
    """The 30-rule policy: default.yaml (19 rules) with the 11 extra rules appended to its rule list."""
    from assay.release.policy import parse_policy

    text = resources.files("assay.release.policy").joinpath("default.yaml").read_text()
    policy = parse_policy(text.rstrip("\n") + "\n" + EXTRA_RULES, "bench-30-rules.yaml")
    assert len(policy.rules) == 30, len(policy.rules)
    return policy


def times(fn, runs: int) -> list[float]:  # noqa: ANN001
    """Wall-clock seconds of each of ``runs`` calls of ``fn``."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def release_state(reg, work: Path) -> str:  # noqa: ANN001
    """A signed, trusted model taken in, released as ``r1``, approved and promoted to staging; returns ``r1``."""
    from tests.fixtures.model_folders import card, write_model

    import assay
    from assay.registry import IntakeRequest, Registry, intake
    from assay.release import grant_role
    from assay.release._service import approve, create_release, promote
    from assay.signing import keygen

    work.mkdir(parents=True, exist_ok=True)
    priv, pub = keygen(work / "team")
    (reg.home / "trust").mkdir(parents=True, exist_ok=True)
    (reg.home / "trust" / "team.pub.pem").write_bytes(pub.read_bytes())
    folder = write_model(work / "model", card=card("apache-2.0", base_model="acme/base", datasets=("acme/data",)))
    assay.sign(folder, key=priv)
    result = intake(reg, IntakeRequest(folder, "acme/classifier", owner="ml-platform", risk_tier="medium",
                                       public_key=pub))
    if not result.accepted:
        raise SystemExit(f"intake refused the bench model: {result.reasons}")
    create_release(reg, "r1", "acme/classifier@1")
    grant_role(reg, reg.actor, "admin")  # the first admin, who makes the two approvers
    for who in ("bob", "carol"):
        grant_role(reg, who, "approver")
    for who, role in (("bob", "ml-lead"), ("carol", "security")):
        for env in ("staging", "production"):
            approve(Registry(reg.engine, reg.blobs, who, reg.home), "r1", env, role=role)
    for env in ("dev", "staging"):
        promote(reg, "r1", env)
    return "r1"


def bench_gates(reg, work: Path, policy, out: dict) -> None:  # noqa: ANN001
    """Rows 1 and 2: pure evaluation (200 calls) and gate_check through the registry (50 calls)."""
    from assay.release._service import gate_check
    from assay.release.policy import evaluate, example_evidence

    evidence = example_evidence()
    pure = times(lambda: evaluate(policy, evidence, environment="production", risk_tier="medium"), 200)
    result = evaluate(policy, evidence, environment="production", risk_tier="medium")
    out["gate eval median"], out["gate eval p95"] = statistics.median(pure), p95(pure)
    out["gate eval rules run"] = len(result.results)
    release = release_state(reg, work)
    e2e = times(lambda: gate_check(reg, release, "production", policy=policy), 50)
    result, _ = gate_check(reg, release, "production", policy=policy)
    out["gate check median"], out["gate check p95"] = statistics.median(e2e), p95(e2e)
    out["gate check passed"] = result.passed
    if not result.passed:
        print(f"  note: gate failed: {[r.id for r in result.failures]}", file=sys.stderr)


def bench_appends(reg, n: int, out: dict) -> None:  # noqa: ANN001
    """Row 3: ``n`` through Registry.log (append + signed checkpoint), then ``n`` appends alone, one txn each."""
    from assay.registry import _auditlog as auditlog

    def payload(i: int) -> dict:
        return {"release": f"r{i % 97}", "environment": "staging", "seq": i, "gate_passed": True}

    start = time.perf_counter()
    for i in range(n):
        with reg.write() as s:
            reg.log(s, "bench", payload(i))
    out["log+checkpoint/s"] = n / (time.perf_counter() - start)
    # Appends alone come second: they leave entries no checkpoint covers, after which every signed write refuses
    # (the log was changed outside Registry.log, as far as a checkpoint can tell).
    start = time.perf_counter()
    for i in range(n):
        with reg.write() as s:
            auditlog.append(s, "bench", "bench", payload(i))
    out["append/s"] = n / (time.perf_counter() - start)


def reset_log(reg) -> None:  # noqa: ANN001
    """Empty the audit log (entries, checkpoints, head) and the rows its entries sealed (the gate bench's release,
    a verify would rightly name them once their entries are gone): the scale runs start from size 0."""
    from sqlalchemy import delete

    from assay.registry._schema import Base

    with reg.write() as s:
        for table in reversed(Base.metadata.sorted_tables):  # children first: foreign keys hold
            s.execute(delete(table))


def sign_head(reg) -> None:  # noqa: ANN001
    """Sign a checkpoint of the head ``bulk_fill`` left, as the Registry.log calls it stands for would have: a
    write's own check (the head must match the newest signed checkpoint) would rightly refuse bulk-made entries."""
    from assay.audit import LOG_ORIGIN, TreeBuilder, sign_checkpoint
    from assay.registry import _logkey as logkey
    from assay.registry._schema import AuditStateRow, CheckpointRow

    signer = logkey.log_signer(reg.home)
    with reg.write() as s:
        head = s.get(AuditStateRow, 1)
        root = TreeBuilder.from_state(head.size, [bytes.fromhex(p) for p in head.peaks]).root()
        s.add(CheckpointRow(size=head.size, root=root.hex(), note=sign_checkpoint(LOG_ORIGIN, head.size, root, signer),
                            created_at=datetime.now(UTC)))


def bulk_fill(reg, target: int) -> None:  # noqa: ANN001
    """Append entries up to index ``target - 1`` in bulk: real bodies, leaves and stored subtree nodes, the head
    row kept in step (what ``auditlog.append`` writes, one chunk per transaction)."""
    from sqlalchemy import insert

    from assay.audit import TreeBuilder, entry_body, leaf_hash
    from assay.registry._schema import AuditEntryRow, AuditNodeRow, AuditStateRow

    base = datetime(2024, 6, 1, tzinfo=UTC)
    kinds = ("approval", "promote", "release-created", "waiver")
    while True:
        with reg.write() as s:
            head = s.get(AuditStateRow, 1, with_for_update=True)
            if head is None:
                head = AuditStateRow(id=1, size=0, peaks=[])
                s.add(head)
            builder = TreeBuilder.from_state(head.size, [bytes.fromhex(p) for p in head.peaks])
            if builder.size >= target:
                return
            rows = []
            nodes: list[tuple[int, int, bytes]] = []
            for i in range(builder.size, min(target, builder.size + CHUNK)):
                kind = kinds[i % 4]
                body = entry_body(i, kind, f"user-{i % 13}", (base + timedelta(seconds=i)).isoformat(),
                                  {"release": f"r{i % 997}", "environment": "production", "seq": i})
                leaf = leaf_hash(body.encode("utf-8"))
                builder.append(leaf, nodes)
                rows.append({"idx": i, "kind": kind, "body": body, "leaf_hash": leaf.hex()})
            s.execute(insert(AuditEntryRow), rows)
            if nodes:
                s.execute(insert(AuditNodeRow), [{"level": lv, "idx": i, "hash": h.hex()} for lv, i, h in nodes])
            size, peaks = builder.state()
            head.size, head.peaks = size, [p.hex() for p in peaks]


def memory_proofs(size: int, runs: int = 200) -> float:
    """Median seconds of inclusion_proof + verify_inclusion on a MemoryTree of ``size`` leaves."""
    from assay.audit import MemoryTree, leaf_hash, verify_inclusion

    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(size)]
    tree = MemoryTree(leaves)
    root = tree.root()
    picks = [secrets.randbelow(size) for _ in range(runs)]

    def one(i: int) -> None:
        proof = tree.inclusion_proof(i)
        verify_inclusion(leaves[i], i, size, proof.hashes, root)

    return statistics.median(times(lambda: one(picks.pop()), runs))


def bench_scale(reg, n: int, repeat: int, out: dict) -> None:  # noqa: ANN001
    """Rows 4 and 5: fill to ``n`` with checkpoints, proofs at each power of ten, then verify (DB and memory)."""
    from sqlalchemy import select

    from assay.audit import leaf_hash, verify_log
    from assay.registry import _auditread as auditread
    from assay.registry import _logkey as logkey
    from assay.registry._schema import AuditEntryRow, AuditStateRow, CheckpointRow

    reset_log(reg)
    stops = sorted({s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= n} | {n // 2, n})
    start = time.perf_counter()
    for stop in stops:
        bulk_fill(reg, stop)
        sign_head(reg)
        if stop in (1_000, 10_000, 100_000, 1_000_000):
            with reg.read() as s:
                index = stop // 3
                samples = times(lambda s=s, index=index: auditread.proof(s, index), repeat)
                doc = auditread.proof(s, index)
            ok = doc["leaf"] == leaf_hash(doc["body"].encode()).hex()
            out[f"proof {stop:.0e}"] = statistics.median(samples)
            out[f"proof {stop:.0e} hashes"] = len(doc["proof"]["hashes"])
            out[f"proof {stop:.0e} size"] = doc["proof"]["size"]
            out[f"memory proof {stop:.0e}"] = memory_proofs(stop)
            print(f"    proof at {stop:,}: {out[f'proof {stop:.0e}'] * 1000:.1f} ms, "
                  f"{len(doc['proof']['hashes'])} hashes{'' if ok else ' (LEAF MISMATCH)'}", file=sys.stderr)
        print(f"    filled {stop:,} in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    verifier = logkey.log_verifier(reg.home)
    reports = []

    def db_verify() -> None:
        with reg.read() as s:
            reports.append(auditread.verify(s, verifier))

    out["verify db"] = statistics.median(times(db_verify, repeat))
    report = reports[-1]
    out["verify ok"], out["verify size"], out["verify checkpoints"] = report.ok, report.size, report.checkpoints
    if not report.ok:
        print(f"  note: verify found problems: {report.problems[:3]}", file=sys.stderr)
    with reg.read() as s:
        entries = [tuple(r) for r in s.execute(select(AuditEntryRow.idx, AuditEntryRow.body, AuditEntryRow.leaf_hash)
                                               .order_by(AuditEntryRow.idx))]
        notes = list(s.scalars(select(CheckpointRow.note).order_by(CheckpointRow.id)))
        head = s.get(AuditStateRow, 1)
        state = (head.size, [bytes.fromhex(p) for p in head.peaks])
    mem = times(lambda: reports.append(verify_log(entries, notes, verifier, head=state)), repeat)
    out["verify memory"] = statistics.median(mem)
    out["verify memory ok"] = reports[-1].ok


def bench_database(label: str, env: dict[str, str], work: Path, args, policy) -> dict:  # noqa: ANN001
    """Every measurement on one database; raw numbers by key."""
    out: dict = {}
    reg = open_registry(env)
    try:
        print(f"  {label}: gates", file=sys.stderr, flush=True)
        bench_gates(reg, work, policy, out)
        print(f"  {label}: {args.appends:,} appends x 2", file=sys.stderr, flush=True)
        bench_appends(reg, args.appends, out)
        print(f"  {label}: filling {args.verify_entries:,} entries", file=sys.stderr, flush=True)
        bench_scale(reg, args.verify_entries, args.repeat, out)
    finally:
        reg.close()
    return out


def ms(seconds: float) -> str:
    """Seconds as a milliseconds cell."""
    return f"{seconds * 1000:.2f} ms" if seconds < 0.01 else f"{seconds * 1000:.1f} ms"


def report(results: dict[str, dict], n: int) -> None:
    """Print the markdown table: measurement | SQLite | PostgreSQL | target | met?."""
    cols = [results.get("SQLite"), results.get("PostgreSQL")]
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= n]

    def row(name: str, fmt, target: str = "", check=None, sqlite_only: bool = False) -> None:  # noqa: ANN001
        cells, met = [], []
        for i, col in enumerate(cols):
            value = fmt(col) if col else None
            cells.append(value if value is not None else "-")
            if check and col and not (sqlite_only and i == 1):
                met.append("yes" if check(col) else "NO")
            elif check and col:
                met.append("(n/a)")
        verdict = " / ".join(met) if met else ""
        print(f"| {name} | {cells[0]} | {cells[1]} | {target} | {verdict} |")

    print("| measurement | SQLite | PostgreSQL | target | met? (SQLite / PostgreSQL) |")
    print("|---|---:|---:|---|---|")
    row("gate evaluation, 30 rules, pure: median", lambda c: ms(c["gate eval median"]), "< 10 ms",
        lambda c: c["gate eval median"] < 0.010)
    row("gate evaluation, 30 rules, pure: p95", lambda c: ms(c["gate eval p95"]), "< 10 ms",
        lambda c: c["gate eval p95"] < 0.010)
    row("gate_check end to end (DB reads): median", lambda c: ms(c["gate check median"]), "< 10 ms",
        lambda c: c["gate check median"] < 0.010)
    row("gate_check end to end (DB reads): p95", lambda c: ms(c["gate check p95"]), "< 10 ms",
        lambda c: c["gate check p95"] < 0.010)
    row("audit append, 1 txn each", lambda c: f"{c['append/s']:,.0f} /s", ">= 2,000 /s on SQLite",
        lambda c: c["append/s"] >= 2000, sqlite_only=True)
    row("Registry.log: append + signed checkpoint, 1 txn each", lambda c: f"{c['log+checkpoint/s']:,.0f} /s",
        ">= 2,000 /s on SQLite", lambda c: c["log+checkpoint/s"] >= 2000, sqlite_only=True)
    row(f"audit verify from DB, {n:,} entries", lambda c: f"{c['verify db']:.2f} s"
        + ("" if c["verify ok"] else " (NOT ok)"), "< 10 s" if n >= 1_000_000 else f"< {10 * n / 1e6:g} s (scaled)",
        lambda c: c["verify db"] < 10 * n / 1_000_000)
    row(f"verify_log in memory, {n:,} entries (no DB)", lambda c: f"{c['verify memory']:.2f} s", "", None)
    for s in sizes:
        key = f"proof {s:.0e}"
        row(f"auditlog.proof at log size {s:,} (hash count)",
            lambda c, key=key: f"{ms(c[key])} ({c[key + ' hashes']})", f"<= {math.ceil(math.log2(s))} hashes",
            lambda c, key=key, s=s: c[key + " hashes"] <= math.ceil(math.log2(s)))
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        bound = math.log2(hi) / math.log2(lo)
        growth = lambda c: c[f"proof {hi:.0e}"] / c[f"proof {lo:.0e}"]  # noqa: E731
        row(f"auditlog.proof time growth {lo:,} -> {hi:,}", lambda c: f"x{growth(c):.0f}",
            f"O(log n): about x{bound:.1f} (met if <= x{2 * bound:.0f})", lambda c: growth(c) <= 2 * bound)
    for s in sizes:
        row(f"MemoryTree inclusion_proof + verify_inclusion, {s:,} leaves",
            lambda c, s=s: f"{c[f'memory proof {s:.0e}'] * 1e6:.0f} us", "", None)


def main() -> None:
    """Run every database the flags leave in, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per verify and per proof")
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="--verify-entries 100000 --appends 1000")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw results (seconds) here")
    args = parser.parse_args()
    if args.quick:
        args.verify_entries, args.appends = 100_000, 1000
    policy = bench_policy()
    results: dict[str, dict] = {}
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="assay-release-bench-") as tmp:
        work = Path(tmp)
        env = {"ASSAY_HOME": str(work / "sqlite-home"), "ASSAY_ACTOR": "alice"}
        results["SQLite"] = bench_database("SQLite", env, work / "sqlite", args, policy)
        if not args.skip_postgres:
            with throwaway_postgres() as (url, why):
                if url is None:
                    notes.append(f"PostgreSQL skipped: unreachable ({why})")
                else:
                    env = {"ASSAY_HOME": str(work / "pg-home"), "ASSAY_DATABASE_URL": url, "ASSAY_ACTOR": "alice"}
                    results["PostgreSQL"] = bench_database("PostgreSQL", env, work / "pg", args, policy)
    first = next(iter(results.values()))
    print(f"{os.cpu_count()} cores; 30-rule policy ({first['gate eval rules run']} apply in production, medium "
          f"risk); evaluate median of 200, gate_check of 50; {args.appends:,} appends per row; verify and proofs "
          f"median of {args.repeat}; {time.perf_counter() - started:.0f} s in all\n")
    report(results, args.verify_entries)
    for note in notes:
        print(f"note: {note}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                         "notes": notes}, indent=2, default=str))


if __name__ == "__main__":
    main()
