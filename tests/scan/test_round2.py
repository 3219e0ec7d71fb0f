"""Issue 11, round two: each malicious sample runs its payload under its real loader and assay blocks it; each
benign file real libraries write loads cleanly and assay passes it.

The loader oracle (tests/scan/oracle_batch.py: one child, a fork per file) proves every label; the scans then
assert what a user sees: exit code 1 for malicious files, exit code 0 and nothing at medium or above for
benign ones.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest

import assay
from assay.scan import Severity
from tests.fixtures.round2 import MALICIOUS_BUILDERS, Sample, build_malicious
from tests.fixtures.round2_benign import BENIGN_BUILDERS
from tests.scan.oracle_batch import BatchResult, run_batch

CLASSES = ("names", "callables", "parsing", "containers", "templates", "remote-code")


def _names() -> list[str]:
    """Sample names for parametrisation (the malicious builders are cheap: bytes and small files only)."""
    with tempfile.TemporaryDirectory() as scratch:
        return [s.name for s in build_malicious(Path(scratch))]


@pytest.fixture(scope="module")
def malicious(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Sample, BatchResult]]:
    """Every malicious sample with what its real loader did (one oracle batch for all of them)."""
    samples = build_malicious(tmp_path_factory.mktemp("round2-malicious"))
    results = run_batch([(s.loader, s.target) for s in samples])
    return {s.name: (s, r) for s, r in zip(samples, results, strict=True)}


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Sample, BatchResult]]]:
    """Benign samples per builder, each with what its real loader did."""
    out = tmp_path_factory.mktemp("round2-benign")
    built = {b.__name__: b(out) for b in BENIGN_BUILDERS}
    flat = [s for samples in built.values() for s in samples]
    results = dict(zip((id(s) for s in flat), run_batch([(s.loader, s.target) for s in flat]), strict=True))
    return {name: [(s, results[id(s)]) for s in samples] for name, samples in built.items()}


def _describe(report: assay.ScanReport) -> list[tuple[str, str, str]]:
    return [(f.rule, f.severity.label, f.message) for f in report.findings]


def test_every_class_has_three_techniques() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        counts = Counter(s.klass for s in build_malicious(Path(scratch)))
    assert all(counts[k] >= 3 for k in CLASSES), counts
    assert len(MALICIOUS_BUILDERS) == len(CLASSES)


@pytest.mark.parametrize("name", _names())
def test_malicious_sample_runs_its_payload_under_its_loader(malicious: dict, name: str) -> None:
    sample, result = malicious[name]
    if sample.proof == "crash":
        assert result.crashed, (result.error, result.blocked)
    else:
        assert result.fired, (sample.loader, result.error, result.find_class[-5:])


@pytest.mark.parametrize("name", _names())
def test_malicious_sample_blocks(malicious: dict, name: str) -> None:
    sample, _ = malicious[name]
    report = assay.scan(sample.path, jobs=1)
    assert report.exit_code == 1, _describe(report)
    assert any(f.severity >= Severity.HIGH for f in report.findings), _describe(report)


@pytest.mark.parametrize("builder", [b.__name__ for b in BENIGN_BUILDERS])
def test_benign_sample_loads_cleanly(benign: dict, builder: str) -> None:
    dirty = [(s.name, r.error, r.blocked) for s, r in benign[builder] if not r.clean]
    assert not dirty


@pytest.mark.parametrize("builder", [b.__name__ for b in BENIGN_BUILDERS])
def test_benign_sample_passes(benign: dict, builder: str) -> None:
    failed = {}
    for sample, _ in benign[builder]:
        report = assay.scan(sample.path, jobs=1)
        loud = [f for f in report.findings if f.severity >= Severity.MEDIUM]
        if report.exit_code != 0 or loud or report.all_errors:
            failed[sample.name] = (report.exit_code, _describe(report), [e.message for e in report.all_errors])
    assert not failed, failed
