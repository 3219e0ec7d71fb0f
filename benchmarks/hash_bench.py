"""Hashing, signing and verifying speed, side by side: assay, model_signing and the sha256sum floor.

    .venv/bin/python benchmarks/hash_bench.py [--repeat 3] [--size-gb 2]

Builds (once) a model folder under benchmarks/.hash-corpus: three large weight files and 600
small files (tokenizer, configs, shards of a few KiB to 2 MiB), 2 GB in all by default. Then, after
reading every file once so the page cache is warm, it times in the same run:

- ``assay sign`` / ``assay verify`` (key method, files serialization, SHA-256),
- ``model_signing sign key`` / ``verify key`` (the reference CLI, same settings),
- the floor: ``sha256sum`` over all files in 2 parallel processes, the files dealt to the two
  processes largest first so neither waits on the other,
- CLI start-up: ``assay --version`` and ``model_signing --help``.

Every command runs as a user runs it (a new process, start-up included). It prints medians and the
ratios the issue sets targets for. Nothing here asserts: it measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / ".hash-corpus"
KEYS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "oms-model-transparency" / "keys" / "certificate"
BIN = Path(sys.executable).parent


def build(size_gb: float) -> Path:
    """The model folder; rebuilt only when the requested size changed."""
    model = CORPUS / f"model-{size_gb:g}GB"
    if model.is_dir():
        return model
    shutil.rmtree(CORPUS, ignore_errors=True)
    (model / "tokenizer").mkdir(parents=True)
    total = int(size_gb * 1e9)
    small_budget = total // 4
    big_sizes = [int((total - small_budget) * f) for f in (0.45, 0.33, 0.22)]
    chunk = os.urandom(64 << 20)
    for i, size in enumerate(big_sizes):
        with open(model / f"model-{i + 1:05d}-of-00003.safetensors", "wb") as f:
            written = 0
            while written < size:
                n = min(len(chunk), size - written)
                f.write(chunk[:n])
                written += n
                chunk = chunk[1:] + chunk[:1] if n == len(chunk) else chunk  # no two blocks alike
    count = 600
    for i in range(count):
        size = max(1024, (small_budget // count) * (i % 7 + 1) // 4)
        folder = model / ("tokenizer" if i % 3 == 0 else ".")
        (folder / f"part-{i:04d}.bin").write_bytes(os.urandom(size))
    return model


def warm(model: Path) -> None:
    """Read every file once so all tools start from the same warm page cache."""
    for path in model.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                while f.read(64 << 20):
                    pass


def timed(cmd: list[str], repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` runs; a failing run stops the benchmark."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return statistics.median(times)


def floor_cmd(model: Path) -> list[str]:
    """Two sha256sum processes, files dealt largest first to the less loaded one."""
    files = sorted((p for p in model.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size, reverse=True)
    lanes: list[list[str]] = [[], []]
    loads = [0, 0]
    for p in files:
        i = loads.index(min(loads))
        lanes[i].append(str(p))
        loads[i] += p.stat().st_size
    lists = []
    for i, lane in enumerate(lanes):
        path = CORPUS / f"lane{i}.txt"
        path.write_text("\0".join(lane))
        lists.append(path)
    script = " & ".join(f"xargs -0 sha256sum < {p} > /dev/null" for p in lists) + " & wait"
    return ["bash", "-c", script]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size-gb", type=float, default=2.0)
    args = parser.parse_args()
    model = build(args.size_gb)
    warm(model)
    out = CORPUS / "sigs"
    out.mkdir(exist_ok=True)
    key, pub = str(KEYS / "signing-key.pem"), str(KEYS / "signing-key-pub.pem")
    assay = [str(BIN / "assay")]
    reference = [sys.executable, "-m", "model_signing"]
    rows = {
        "assay sign": assay + ["sign", str(model), "--key", key, "--signature", str(out / "assay.sig")],
        "model_signing sign key": reference + ["sign", "key", "--private_key", key, "--signature",
                                               str(out / "ms.sig"), str(model)],
    }
    results = {name: timed(cmd, args.repeat) for name, cmd in rows.items()}
    verify_rows = {
        "assay verify": assay + ["verify", str(model), "--public-key", pub, "--signature", str(out / "assay.sig")],
        "model_signing verify key": reference + ["verify", "key", "--public_key", pub, "--signature",
                                                 str(out / "ms.sig"), str(model)],
        "floor: sha256sum x2 processes": floor_cmd(model),
        "assay --version (start-up)": assay + ["--version"],
        "model_signing --help (start-up)": reference + ["--help"],
    }
    results.update({name: timed(cmd, args.repeat) for name, cmd in verify_rows.items()})
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    files = sum(1 for p in model.rglob("*") if p.is_file())
    print(f"model: {files} files, {size / 1e9:.2f} GB; {os.cpu_count()} cores; median of {args.repeat}")
    print(f"{'command':<34}{'seconds':>9}")
    for name, seconds in results.items():
        print(f"{name:<34}{seconds:>9.3f}")
    floor = results["floor: sha256sum x2 processes"]
    print()
    print(f"assay verify / model_signing verify  {results['assay verify'] / results['model_signing verify key']:.2f}"
          "  (target <= 0.80)")
    print(f"assay verify / floor                 {results['assay verify'] / floor:.2f}  (target <= 1.25)")
    print(f"assay sign / model_signing sign      {results['assay sign'] / results['model_signing sign key']:.2f}")
    print(f"assay start-up                       {results['assay --version (start-up)']:.3f} s  (target < 0.3)")


if __name__ == "__main__":
    main()
