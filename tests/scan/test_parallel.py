"""Scanning in worker processes (``--jobs``): the same report as one process, and no file lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assay.scan import _parallel as parallel
from assay.scan._findings import FileReport, Finding, Location, ScanError, ScanReport, Severity
from tests.fixtures.cli import ASSAY, run
from tests.fixtures.malicious_pickles import CASES

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are Linux-only")


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory, benign_dir: Path, malicious_dir: Path) -> Path:
    """Benign and malicious files together, with nested folders, an unreadable name and a dangling link."""
    root = tmp_path_factory.mktemp("mixed")
    for i, (name, case) in enumerate(sorted(CASES.items())):
        (root / f"p{i % 3}").mkdir(exist_ok=True)
        (root / f"p{i % 3}" / f"{name}.pkl").write_bytes(case[0])
    for source in (benign_dir, malicious_dir):
        for path in sorted(source.iterdir()):
            if path.is_file():
                (root / f"{source.name}_{path.name}").write_bytes(path.read_bytes())
    (root / "dangling.pt").symlink_to(root / "nowhere")
    return root


def _json(*args: str) -> tuple[int, dict]:
    result = run("scan", "--format", "json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_workers_give_the_same_report_as_one_process(mixed_dir: Path) -> None:
    code_one, one = _json("--jobs", "1", str(mixed_dir))
    code_many, many = _json("--jobs", "3", str(mixed_dir))
    assert code_one == code_many == 1
    assert len(one["files"]) > 100
    assert many["files"] == one["files"]  # same reports, same order
    assert many["summary"] == one["summary"]
    assert any(f["path"].endswith("dangling.pt") and f["errors"] for f in many["files"])


def test_default_matches_one_process(mixed_dir: Path) -> None:
    code, report = _json(str(mixed_dir))
    _, one = _json("-j", "1", str(mixed_dir))
    assert code == 1 and report["files"] == one["files"]


def test_a_worker_that_dies_leaves_an_error_not_a_gap(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"f{i}") for i in range(6)]

    def scan_one(i: int) -> FileReport:
        if i == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
        return FileReport(paths[i], ("pickle",), i, (Finding("AS101", Severity.HIGH, "m", Location(paths[i], "x", i)),), ())

    for workers in (2, 1):  # with one worker, a replacement scans the files after the one that killed it
        reports = parallel.scan_in_workers(paths, scan_one, workers)
        assert reports is not None and [r.path for r in reports] == paths
        assert reports[3].errors[0].message == ("the worker process scanning it was killed by SIGKILL "
                                                "(the kernel's out-of-memory killer sends it)")
        assert all(r.findings[0].location.offset == i for i, r in enumerate(reports) if i != 3)
        assert ScanReport(tuple(reports)).exit_code == 1  # the findings still count; the lost file is an error
        assert ScanReport(tuple(r for r in reports if not r.findings)).exit_code == 2


def test_reports_survive_the_trip_between_processes() -> None:
    report = FileReport("a/b.pt", ("zip", "pickle"), 10,
                        (Finding("AS101", Severity.CRITICAL, "calls os.system", Location("a/b.pt", "x!y", 7), "why"),),
                        (ScanError(Location("a/b.pt", None, None), "limit", "max_files"),))
    assert FileReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not parallel.available()
    finally:
        stop.set()
        thread.join()


def test_worker_count(tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    small = []
    for i in range(3):
        small.append(str(tmp_path / f"s{i}"))
        Path(small[-1]).write_bytes(b"x")
    big = []
    for i in range(2):
        big.append(str(tmp_path / f"b{i}"))
        Path(big[-1]).write_bytes(b"\0" * parallel.BIG_FILE_BYTES)
    assert parallel.worker_count(4, small[:2]) == 2  # asked for: as many as there are files
    assert parallel.worker_count(1, small + big) == 1
    assert parallel.worker_count(0, small) == 1  # auto: too little work to pay for a fork
    assert parallel.worker_count(0, [*small, big[0]]) == 1
    assert parallel.worker_count(0, small + big) == min(cpus, 5)
    many = [str(tmp_path / "missing")] * parallel.MANY_FILES
    assert parallel.worker_count(0, many) == cpus


@pytest.mark.parametrize("value", ["0", "-1", "two", "²", "100000"])
def test_bad_jobs_is_one_line(value: str, tmp_path: Path) -> None:
    result = run("scan", "--jobs", value, str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--jobs" in result.stderr


def test_jobs_in_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "assay.toml").write_text("[scan]\njobs = 2\n")
    (tmp_path / "m.pkl").write_bytes(CASES["proto0_global_reduce"][0])
    assert run("scan", "m.pkl", cwd=tmp_path).returncode == 1
    (tmp_path / "assay.toml").write_text("[scan]\njobs = -2\n")
    result = run("scan", "m.pkl", cwd=tmp_path)
    assert result.returncode == 2 and "jobs" in result.stderr and "Traceback" not in result.stderr


def _session_processes(sid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry))
    return found


def test_ctrl_c_stops_the_workers_too(tmp_path: Path) -> None:
    # Enough work that the scan is still running when interrupted: long pickles of many opcodes.
    body = b"\x80\x04" + b"K\x01" * 400_000 + b"0" * 400_000 + b"N."
    for i in range(160):  # minutes of work: never finished before the signal, however fast the machine
        (tmp_path / f"slow{i}.pkl").write_bytes(body)
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"}
    proc = subprocess.Popen([*ASSAY, "scan", "-q", "-j", "2", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    deadline = time.monotonic() + 30
    while len(_session_processes(proc.pid)) < 3 and time.monotonic() < deadline:  # the CLI and its two workers
        time.sleep(0.02)
    assert len(_session_processes(proc.pid)) == 3
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _session_processes(proc.pid) == []


@pytest.mark.parametrize("broken", ["fork", "memfd_create"])
def test_no_worker_can_start_so_the_scan_runs_here(broken: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        (tmp_path / f"m{i}.pkl").write_bytes(CASES["proto0_global_reduce"][0])

    def refuse(*_args: object) -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(parallel, "available", lambda: True)
    monkeypatch.setattr(os, broken, refuse)
    import assay

    report = assay.scan(tmp_path, jobs=4)
    assert [Path(f.path).name for f in report.files] == [f"m{i}.pkl" for i in range(4)]
    assert report.exit_code == 1 and all(f.findings and not f.errors for f in report.files)


def test_a_scanner_bug_in_a_worker_shows_its_traceback_under_assay_debug(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_DEBUG", "1")
    paths = [str(tmp_path / f"f{i}") for i in range(3)]

    def scan_one(i: int) -> FileReport:
        if i == 1:
            raise ZeroDivisionError("a scanner bug")
        return FileReport(paths[i], (), 0, (), ())

    reports = parallel.scan_in_workers(paths, scan_one, 2)
    assert reports is not None
    assert reports[1].errors[0].message == "the worker process scanning it exited with status 1"
    assert not reports[0].errors and not reports[2].errors
    assert "ZeroDivisionError: a scanner bug" in capfd.readouterr().err


def test_workers_match_one_process_on_generated_folders(tmp_path_factory: pytest.TempPathFactory,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Property: for folders of random bytes, opcode soup and malicious pickles, the reports of 1 and of
    3 workers are equal, in the same order."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from assay.scan import ScanConfig
    from assay.scan._walk import scan_paths

    monkeypatch.setattr(parallel, "available", lambda: True)  # the test process runs torch's threads
    soup = st.binary(max_size=300).map(lambda b: b"\x80\x02" + b + b".")
    content = st.one_of(st.binary(max_size=300), soup, st.sampled_from([case[0] for case in CASES.values()]))

    @settings(max_examples=int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "40")), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.lists(content, min_size=2, max_size=12))
    def check(files: list[bytes]) -> None:
        root = tmp_path_factory.mktemp("gen")
        for i, data in enumerate(files):
            (root / f"d{i % 2}").mkdir(exist_ok=True)
            (root / f"d{i % 2}" / f"f{i}.bin").write_bytes(data)
        one = scan_paths([str(root)], ScanConfig(jobs=1))
        many = scan_paths([str(root)], ScanConfig(jobs=3))
        assert many == one

    check()
