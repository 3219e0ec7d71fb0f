"""Team server throughput: ``assay serve`` beside an MLflow tracking server, the same machine, the same database
kind (SQLite files), the same number of model versions, the same load: C concurrent clients on loopback for a
fixed time per row. Prints p50/p99 latency and requests per second side by side, and the ratios.

    .venv/bin/python benchmarks/server_bench.py [--versions 10000] [--clients 32] [--seconds 15] [--workers 2]
                                                [--skip-mlflow] [--json FILE]

Rows (assay call / MLflow call):
  show one version      POST /api/v1/show {"ref": "bench/model-K@7"}  /  GET model-versions/get?name=...&version=7
  models of one owner   POST /api/v1/models {"owner": "team-3"}       /  GET registered-models/search?filter=tags.owner=...
  write an attribute    POST /api/v1/model/set {"name", "owner"}      /  POST model-versions/set-tag
assay's write is a sealed audit-log append with a signed checkpoint; MLflow's is a row update. The load generator
is one Python process (httpx, asyncio) for both, so its own CPU cost weighs on both alike. MLflow runs from
benchmarks/.mlflow (made on first use, as registry_bench.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from registry_bench import MLFLOW, fill, free_port, small_inspection  # noqa: E402  (beside this file)

MLFLOW_FILL = r'''
import hashlib, logging, sys
logging.disable(logging.WARNING)
from mlflow import MlflowClient
uri, n, models = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = MlflowClient(tracking_uri=uri)
for k in range(models):
    c.create_registered_model(f"bench.model-{k}", tags={"owner": f"team-{k // 10 % 10}"})
for i in range(n):
    c.create_model_version(f"bench.model-{i % models}", source=f"s3://bench-models/x/{i}", await_creation_for=0,
                           tags={"digest": "sha256:" + hashlib.sha256(f"bench-{i}".encode()).hexdigest()})
    if (i + 1) % 1000 == 0:
        print(f"    {i + 1} versions", file=sys.stderr, flush=True)
'''


async def _load(url: str, make, clients: int, seconds: float) -> dict[str, float]:  # noqa: ANN001
    """``clients`` tasks sending ``make(i) -> (method, path, kwargs)`` for ``seconds``; latency and throughput."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(n: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        i = n
        while time.perf_counter() < stop:
            method, path, kwargs = make(i)
            start = time.perf_counter()
            reply = await http.request(method, path, **kwargs)
            latencies.append(time.perf_counter() - start)
            errors += reply.status_code >= 400
            i += clients

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(n, http) for n in range(clients)))
        took = time.perf_counter() - began
    latencies.sort()
    return {"p50": statistics.median(latencies) * 1000, "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "rps": len(latencies) / took, "errors": errors, "requests": len(latencies)}


def _wait(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {log}") from None
            time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def bench_assay(work: Path, n: int, models: int, clients: int, seconds: float, workers: int) -> dict[str, dict]:
    """Fill an embedded registry with ``n`` versions, serve it with ``workers`` processes, load it."""
    from assay.config import load_settings
    from assay.identity import create_token
    from assay.registry import Registry

    home = work / "assay-home"
    env = {**os.environ, "ASSAY_HOME": str(home), "ASSAY_ACTOR": "bench"}
    env.pop("ASSAY_DATABASE_URL", None)
    os.environ.update({"ASSAY_HOME": str(home), "ASSAY_ACTOR": "bench"})
    reg = Registry.open(load_settings())
    admin, _ = create_token(reg, "bench", role="admin")
    viewer, _ = create_token(reg, "reader", role="viewer")
    writer, _ = create_token(reg, "writer", role="submitter")
    folder, insp = small_inspection(work)
    print(f"  assay: recording {n} versions over {models} models", file=sys.stderr, flush=True)
    fill(reg, folder, insp, n, models, models // 2)
    reg.close()
    port = free_port()
    log = work / "assay-server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "assay"), "serve", "--port", str(port), "--workers",
                                   str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/api/v1/health", server, log)
        read = {"Authorization": f"Bearer {viewer}"}
        write = {"Authorization": f"Bearer {writer}"}
        rows = {
            "show one version": lambda i: ("POST", "/api/v1/show", {
                "json": {"ref": f"bench/model-{i * 7919 % models}@7"}, "headers": read}),
            "models of one owner": lambda i: ("POST", "/api/v1/models", {
                "json": {"owner": f"team-{i % 10}"}, "headers": read}),
            "write an attribute": lambda i: ("POST", "/api/v1/model/set", {
                "json": {"name": f"bench/model-{i % models}", "owner": f"team-{random.randrange(10)}x{i}"},
                "headers": write}),
        }
        del admin
        return {name: asyncio.run(_load(url, make, clients, seconds)) for name, make in rows.items()}
    finally:
        _stop(server)


def bench_mlflow(work: Path, n: int, models: int, clients: int, seconds: float, workers: int) -> dict[str, dict]:
    """Fill an MLflow server (SQLite) with ``n`` versions, load it the same way."""
    python = MLFLOW / "bin" / "python"
    if not (MLFLOW / "bin" / "mlflow").exists():
        subprocess.run(["python3.11", "-m", "venv", str(MLFLOW)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"], check=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "mlflow-server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(MLFLOW / "bin" / "mlflow"), "server", "--backend-store-uri",
                                   f"sqlite:///{work / 'mlflow.db'}", "--default-artifact-root",
                                   str(work / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(workers)], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        _wait(url + "/health", server, log)
        print(f"  MLflow: registering {n} versions over {models} models", file=sys.stderr, flush=True)
        subprocess.run([str(python), "-c", MLFLOW_FILL, url, str(n), str(models)], check=True)
        api = "/api/2.0/mlflow"
        rows = {
            "show one version": lambda i: ("GET", f"{api}/model-versions/get", {
                "params": {"name": f"bench.model-{i * 7919 % models}", "version": "7"}}),
            "models of one owner": lambda i: ("GET", f"{api}/registered-models/search", {
                "params": {"filter": f"tags.owner = 'team-{i % 10}'", "max_results": "1000"}}),
            "write an attribute": lambda i: ("POST", f"{api}/model-versions/set-tag", {
                "json": {"name": f"bench.model-{i % models}", "version": "7", "key": "owner",
                         "value": f"team-{random.randrange(10)}x{i}"}}),
        }
        return {name: asyncio.run(_load(url, make, clients, seconds)) for name, make in rows.items()}
    finally:
        _stop(server)


def report(results: dict[str, dict[str, dict]], args: argparse.Namespace) -> None:
    """The Markdown table: per row and peer, p50 / p99 / requests per second, and assay's throughput ratio."""
    peers = list(results)
    print(f"\n{args.versions} versions, {args.clients} clients, {args.seconds:.0f} s per row, {args.workers} "
          f"worker(s) each, SQLite\n")
    print("| row | " + " | ".join(f"{p} p50 / p99 ms | {p} req/s" for p in peers)
          + (" | assay / MLflow req/s |" if "MLflow" in peers else " |"))
    print("|---|" + "---|---|" * len(peers) + ("---|" if "MLflow" in peers else ""))
    for row in results[peers[0]]:
        cells = []
        for p in peers:
            r = results[p][row]
            bad = f" ({r['errors']} errors)" if r["errors"] else ""
            cells.append(f"{r['p50']:.1f} / {r['p99']:.1f}{bad} | {r['rps']:.0f}")
        ratio = (f" | {results['assay'][row]['rps'] / results['MLflow'][row]['rps']:.1f}x"
                 if "MLflow" in peers else "")
        print(f"| {row} | " + " | ".join(cells) + ratio + " |")


def main() -> None:
    """Run both peers and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write the raw results here.")
    args = parser.parse_args()
    models = min(1000, max(10, args.versions // 10))
    with tempfile.TemporaryDirectory(prefix="assay-server-bench-") as tmp:
        work = Path(tmp)
        results = {"assay": bench_assay(work, args.versions, models, args.clients, args.seconds, args.workers)}
        if not args.skip_mlflow:
            results["MLflow"] = bench_mlflow(work, args.versions, models, args.clients, args.seconds, args.workers)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    report(results, args)


if __name__ == "__main__":
    main()
