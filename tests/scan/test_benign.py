"""No false alarms: real models and files written by the real libraries scan clean."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.scan import Severity


def _problems(report: assay.ScanReport, at_least: Severity = Severity.MEDIUM) -> list[str]:
    return [f"{f.location}: {f.rule} {f.severity.label} {f.message}" for f in report.findings if f.severity >= at_least]


def test_real_minilm_folder_is_clean(minilm_dir: Path) -> None:
    report = assay.scan(minilm_dir)
    assert report.exit_code == 0
    assert _problems(report, Severity.LOW) == []
    formats = {f.path.rsplit("/", 1)[-1]: f.formats for f in report.files}
    assert formats["model.safetensors"] == ("safetensors",)
    assert "hf-tokenizer-config" in formats["tokenizer_config.json"]


def test_real_silero_files_are_clean(silero_dir: Path) -> None:
    report = assay.scan(silero_dir)
    assert report.exit_code == 0, _problems(report, Severity.INFO)
    assert _problems(report, Severity.LOW) == []
    jit = next(f for f in report.files if f.path.endswith("silero_vad.jit"))
    assert "torchscript" in jit.formats
    assert sum(1 for f in report.files if "onnx" in f.formats) >= 5


BENIGN = ["state_dict.pt", "legacy_format.bin", "training_checkpoint.ckpt", "protocol5.pt", "torchscript.pt",
          "pipeline.pkl", "pipeline.joblib", "pipeline_zlib.joblib", "pipeline_gzip.joblib", "pipeline_bz2.joblib",
          "pipeline_lzma.joblib", "pipeline_xz.joblib", "pipeline_lz4.joblib", "mixed_arrays.joblib", "plain.npy",
          "structured.npy", "arrays.npz", "arrays_compressed.npz", "model.safetensors", "inline.onnx",
          "onnx_external", "llama3.gguf", "model.keras", "legacy_model.h5", "data.dill", "data.cloudpickle",
          "protocol0.pkl", "hf_model", "saved_model"]


@pytest.mark.parametrize("name", BENIGN)
def test_benign_file_has_no_findings(benign_dir: Path, name: str) -> None:
    report = assay.scan(benign_dir / name)
    assert report.exit_code == 0
    assert _problems(report, Severity.LOW) == [], name
    assert not report.all_errors


@pytest.mark.parametrize("name,expected", [
    ("whole_module.pth", "tests.fixtures.models.TinyNet"),  # a user class: its code runs at load, so it blocks
])
def test_user_classes_block_until_the_user_allows_them(benign_dir: Path, name: str, expected: str) -> None:
    report = assay.scan(benign_dir / name)
    assert report.exit_code == 1
    assert [(f.rule, f.severity) for f in report.findings] == [("AS102", Severity.HIGH)]
    assert expected in report.findings[0].message
    assert f"--allow {expected}" in report.findings[0].message
    assert assay.scan(benign_dir / name, allow=[expected]).findings == ()
    assert assay.scan(benign_dir / name, allow=["tests.fixtures.models.*"]).exit_code == 0


@pytest.mark.parametrize("name,low_rule", [("objects.npy", "AS311"), ("plain_pickled_tensor.pkl", "AS101")])
def test_benign_nested_payloads_are_reported_low(benign_dir: Path, name: str, low_rule: str) -> None:
    report = assay.scan(benign_dir / name)
    assert report.exit_code == 0
    assert _problems(report) == []
    assert low_rule in {f.rule for f in report.findings}


def test_detects_formats_by_content(benign_dir: Path) -> None:
    expect = {"legacy_format.bin": "pytorch-legacy", "torchscript.pt": "torchscript", "state_dict.pt": "pytorch",
              "pipeline_lz4.joblib": "lz4", "pipeline_lzma.joblib": "lzma-alone", "arrays.npz": "npz",
              "llama3.gguf": "gguf", "model.keras": "keras", "legacy_model.h5": "hdf5"}
    for name, fmt in expect.items():
        assert fmt in assay.scan(benign_dir / name).files[0].formats, name


def test_raw_tensor_data_is_not_taken_for_a_pickle(tmp_path: Path) -> None:
    """Raw float data (ONNX external data, raw .bin shards) often starts with a pickle opcode byte;
    about 1 in 40 such files used to be reported, 1 in 80 as a high EXT import (a CI failure)."""
    import numpy as np

    rng = np.random.default_rng(20261122)
    flagged = []
    for i in range(3000):
        data = rng.random(256).astype(np.float32).tobytes()
        path = tmp_path / f"weights{i}.data"
        path.write_bytes(data)
        report = assay.scan(path)
        if any(f.severity >= Severity.MEDIUM for f in report.findings) or report.exit_code:
            flagged.append((data[:4].hex(), _problems(report)))
    assert flagged == []
    # The exact start that failed: EXT2 then a byte that is no opcode.
    (tmp_path / "ext2.data").write_bytes(bytes.fromhex("83a9783e5e3b763e") * 64)
    assert assay.scan(tmp_path / "ext2.data").findings == ()


def test_headerless_pickle_that_imports_is_still_reported(tmp_path: Path) -> None:
    """The other side of that rule: a protocol 0 payload that breaks after its call is reported."""
    (tmp_path / "weights.data").write_bytes(b"cos\nsystem\n(S'id'\ntR" + bytes(range(256)) * 8)
    report = assay.scan(tmp_path / "weights.data")
    assert report.exit_code == 1
    assert any("os.system" in f.message for f in report.findings)


def test_safetensors_whose_header_length_starts_like_zlib_is_still_read(tmp_path: Path) -> None:
    """1 in 256 safetensors files start with 0x78 (joblib's zlib prefix): both readings are tried."""
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    for pad in range(256):
        save_file({"w": np.ones(4, dtype=np.float32)}, str(path), metadata={"x": "a" * pad})
        if path.read_bytes()[:1] == b"\x78":
            break
    assert path.read_bytes()[:1] == b"\x78"
    report = assay.scan(path)
    assert report.files[0].formats == ("safetensors",) and report.exit_code == 0
    data = bytearray(path.read_bytes())
    data[8 + 2] = ord("[")  # break the JSON header: the safetensors reader must still be the one that reports
    path.write_bytes(bytes(data))
    assert any(f.rule == "AS441" for f in assay.scan(path).findings)


def test_test_data_the_library_wheels_ship_has_no_finding_of_medium_or_above() -> None:
    """numpy's old-format .npy/.npz (Python 2 object arrays included), SciPy's test arrays and ONNX's test models:
    real files written by many versions of the libraries over the years."""
    import numpy
    import onnx
    import scipy

    roots = [Path(numpy.__file__).parent / "lib" / "tests" / "data"]
    files = [p for p in Path(scipy.__file__).parent.rglob("*") if "tests" in p.parts and p.suffix in (".npy", ".npz")]
    files += [p for p in Path(onnx.__file__).parent.rglob("*.onnx") if "test" in str(p)]
    assert len(files) >= 20 and roots[0].is_dir()
    report = assay.scan([*roots, *files])
    assert len(report.files) >= 25
    assert _problems(report) == [] and report.exit_code == 0
    assert not report.all_errors
