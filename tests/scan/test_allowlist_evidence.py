"""The allow-list is derived from evidence: every global that real libraries' files make the real loader import
is allowed (and says why), and those files scan clean.

A representative part of the harvest corpus (``tests/fixtures/harvest.py``) is built with the real libraries and
opened by the real loaders through the oracle, which records each ``pickle.find_class``. Set
``ASSAY_HARVEST_FULL=1`` to run the whole corpus (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import warnings
from pathlib import Path

import pytest

from assay.scan import Severity, scan
from assay.scan._pickle import safe_harvested
from assay.scan._pickle.safe_harvested import EXCLUDED, HARVESTED
from assay.scan._pickle.verdict import classify
from tests.fixtures.harvest import TORCH_BUILDERS, BuildLog, Built, dump_joblib
from tests.fixtures.harvest_data import DATA_BUILDERS, build_numpy, build_scipy, build_sklearn, build_stdlib
from tests.scan.oracle import OracleResult, run_loader

FULL = os.environ.get("ASSAY_HARVEST_FULL") == "1"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "harvest_allowlist.py"

# One file per family, chosen for the names earlier rounds got wrong: methods pickled as getattr(type, name)
# (tz-aware datetimes, str.split tokenizers), TensorDataset, a compiled module, random-state constructors.
REPRESENTATIVE = {
    "stdlib_values.p4.pkl", "numpy_arrays.p2.pkl", "numpy_random.joblib", "numpy_object.npy", "scipy_sparse.p5.pkl",
    "joblib_lz4.joblib", "sklearn_composites.p4.pkl", "sklearn_estimators_00.joblib", "torch_tensor_dataset.p2.pt",
    "torch_compiled_whole.p2.pt", "torch_layers_transformer_whole.p2.pt", "torch_optimizers_whole.p2.pt",
}


def _representative(out: Path, log: BuildLog) -> list[Built]:
    import numpy as np

    built = build_stdlib(out, log) + build_numpy(out, log) + build_scipy(out, log)
    built += dump_joblib(out, "joblib_lz4", {"w": np.arange(1000.0)}, "joblib", log, compress=("lz4", 3))
    built += build_sklearn(out, log, limit=8)
    for family in ("torch-tensors", "torch-compiled", "torch-layers", "torch-optim"):
        built += TORCH_BUILDERS[family](out, log)
    return [b for b in built if b.path.name in REPRESENTATIVE]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Built, OracleResult]]:
    """The corpus files, each with what its real loader resolved."""
    out, log = tmp_path_factory.mktemp("harvest"), BuildLog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if FULL:
            built = [b for builder in (*DATA_BUILDERS.values(), *TORCH_BUILDERS.values()) for b in builder(out, log)]
        else:
            built = _representative(out, log)
    if not FULL:
        assert {b.path.name for b in built} == REPRESENTATIVE, log.skipped
    return [(b, run_loader(b.loader, b.path, preload=b.preload)) for b in built]


def _harvest_script():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("harvest_allowlist", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_loads_cleanly_with_real_loaders(corpus: list[tuple[Built, OracleResult]]) -> None:
    unclean = [f"{b.path.name}: {r.error or r.blocked}" for b, r in corpus if not r.clean]
    assert not unclean, unclean
    assert all(r.find_class for _, r in corpus), "every corpus file must reference globals, or it proves nothing"


def test_every_harvested_name_is_allowed(corpus: list[tuple[Built, OracleResult]]) -> None:
    canonical = _harvest_script().canonical
    refused = sorted({f"{m}.{n} ({classify(m, n).kind}, in {b.path.name})" for b, r in corpus for m, n in r.find_class
                      if canonical(m, n) not in EXCLUDED and classify(m, n).kind != "safe"})
    assert not refused, f"{len(refused)} names real libraries write are not allowed: {refused}"


def test_generated_allowlist_covers_the_corpus(corpus: list[tuple[Built, OracleResult]]) -> None:
    canonical = _harvest_script().canonical
    missing = sorted({canonical(m, n) for _, r in corpus for m, n in r.find_class} - HARVESTED.keys() - EXCLUDED.keys())
    assert not missing, f"re-run scripts/harvest_allowlist.py: {missing}"


def test_corpus_scans_without_medium_or_worse(corpus: list[tuple[Built, OracleResult]]) -> None:
    noisy = []
    for built, _ in corpus:
        report = scan(built.path, jobs=1)
        noisy += [f"{built.path.name}: {f.rule} {f.severity.name} {f.message}" for f in report.findings
                  if f.severity >= Severity.MEDIUM]
        noisy += [f"{built.path.name}: exit {report.exit_code}, error {e.message}" for e in report.all_errors]
    assert not noisy, noisy


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def test_every_entry_is_exact_importable_shaped_and_says_why() -> None:
    assert len(HARVESTED) > 500, "the generated allow-list is missing or truncated"
    bad = [(name, why) for name, why in HARVESTED.items() if not _DOTTED.fullmatch(name) or len(why.strip()) < 10]
    assert not bad, bad
    assert not [n for n in HARVESTED if "*" in n], "entries are exact names, never patterns"
    assert not HARVESTED.keys() & EXCLUDED.keys()
    assert all(why.strip() for why in EXCLUDED.values())


def test_nothing_dangerous_on_its_face_is_harvested() -> None:
    script = _harvest_script()
    flagged = {name: script.exclusion(name) for name in HARVESTED if script.exclusion(name)}
    assert not flagged, flagged
    for name in ("os.system", "posix.system", "subprocess.Popen", "builtins.getattr", "builtins.eval",
                 "functools.partial", "importlib.import_module", "sys.modules"):
        assert name not in HARVESTED and script.exclusion(name), name
    assert script.canonical("__builtin__", "set") == "builtins.set"
    assert script.canonical("copy_reg", "_reconstructor") == "copyreg._reconstructor"


def test_generated_module_imports_nothing() -> None:
    """It sits on the scan path: a plain dict literal keeps start-up fast and keeps the libraries out."""
    tree = ast.parse(Path(safe_harvested.__file__).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom, ast.Call))]
