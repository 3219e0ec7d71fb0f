"""Named limits stop work with an error (exit 2), never a hang; the Python API."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import assay
from assay.scan import ScanLimits, Severity
from tests.fixtures.opcodes import proto


def test_api_returns_a_report(benign_dir: Path) -> None:
    report = assay.scan(benign_dir / "state_dict.pt")
    assert isinstance(report, assay.ScanReport)
    assert report.exit_code == 0 and report.files[0].formats == ("pytorch", "zip")
    assert report.to_dict()["summary"]["files"] == 1


def test_opcode_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.pkl"
    path.write_bytes(pickle.dumps(list(range(1000)), protocol=2))
    report = assay.scan(path, limits=ScanLimits(max_pickle_opcodes=50))
    assert report.exit_code == 2
    assert report.all_errors[0].limit == "max_pickle_opcodes"


def test_memo_and_stack_limit(tmp_path: Path) -> None:
    path = tmp_path / "marks.pkl"
    path.write_bytes(proto(2) + b"(" * 100_000 + b".")
    report = assay.scan(path, limits=ScanLimits(max_pickle_items=1000))
    assert report.all_errors[0].limit == "max_pickle_items"  # MARK bombs count too
    assert assay.scan(path).findings[0].rule == "AS108"  # within the default limits: a harmless malformed stream
    path.write_bytes(proto(2) + b"N" * 5000 + b".")
    assert assay.scan(path, limits=ScanLimits(max_pickle_items=1000)).all_errors[0].limit == "max_pickle_items"


def test_archive_depth_limit(tmp_path: Path) -> None:
    data = b"\x80\x04N."
    for level in range(10):
        path = tmp_path / f"level{level}.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"inner{level}.zip" if level else "x.pkl", data)
        data = path.read_bytes()
    report = assay.scan(path, limits=ScanLimits(max_archive_depth=3))
    assert report.exit_code == 2
    assert any(e.limit == "max_archive_depth" for e in report.all_errors)


def test_member_count_limit(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(50):
            z.writestr(f"f{i}.txt", b"x")
    report = assay.scan(path, limits=ScanLimits(max_members=10))
    assert [e.limit for e in report.all_errors] == ["max_members"]


def test_decompressed_size_limit(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "big.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(b"\0" * (8 << 20), protocol=4)))
    report = assay.scan(path, limits=ScanLimits(max_decompressed_bytes=1 << 20))
    assert any(e.limit == "max_decompressed_bytes" for e in report.all_errors)


def test_large_inline_bytes_are_skipped_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big_inline.pkl"
    path.write_bytes(pickle.dumps({"w": b"\1" * (40 << 20)}, protocol=4))
    report = assay.scan(path, limits=ScanLimits(max_inline_bytes=1 << 20))
    assert report.exit_code == 0 and not report.findings


def test_fail_on_and_severity_parse() -> None:
    assert Severity.parse("HIGH") is Severity.HIGH
    try:
        Severity.parse("urgent")
    except ValueError as exc:
        assert "critical" in str(exc)
    else:
        raise AssertionError("unknown severity accepted")


def test_symlinked_file_in_folder_is_followed_and_dangling_reported(tmp_path: Path) -> None:
    target = tmp_path / "real.pkl"
    target.write_bytes(b"cos\nsystem\n(S'id'\ntR.")
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "model.bin").symlink_to(target)
    (folder / "gone.bin").symlink_to(tmp_path / "nothing")
    report = assay.scan(folder)
    assert report.exit_code == 1
    assert any("dangling" in e.message for e in report.all_errors)


def test_sniffing_opcode_table_matches_the_machine() -> None:
    from assay.scan._pickle.handlers import PICKLE_OPCODES
    from assay.scan._pickle.opcodes import OPCODE_BYTES

    assert OPCODE_BYTES == PICKLE_OPCODES


def test_a_limit_in_one_member_does_not_hide_the_next(tmp_path: Path) -> None:
    import gzip

    from tests.fixtures.malicious_pickles import CASES

    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a_big.pkl.gz", gzip.compress(pickle.dumps(b"\0" * (4 << 20), protocol=4)))
        z.writestr("z_payload.pkl", CASES["proto4_stack_global"][0])
    report = assay.scan(path, limits=ScanLimits(max_decompressed_bytes=1 << 20))
    assert report.exit_code == 1  # the payload after the over-limit member is still found
    assert any(e.limit == "max_decompressed_bytes" for e in report.all_errors)
    assert any(f.rule == "AS101" for f in report.findings)


def test_decompressed_output_past_the_memory_spool_reads_back_exactly() -> None:
    """Output over SPOOL_BYTES moves to a temporary file; reads on both sides of the move stay exact."""
    import os
    import zlib

    from assay.scan._source import SPOOL_BYTES, BytesBlob, DecompressedBlob

    data = os.urandom(1 << 20) * (SPOOL_BYTES // (1 << 20) + 2)
    blob = DecompressedBlob(BytesBlob(zlib.compress(data, 1)), zlib.decompressobj, max_bytes=len(data) + 1)
    for offset in (0, SPOOL_BYTES - 7, SPOOL_BYTES + 5, len(data) - 100):
        assert blob.read_at(offset, 64) == data[offset:offset + 64]
    assert blob.read_at(100, 10) == data[100:110]  # back before the move, after it
