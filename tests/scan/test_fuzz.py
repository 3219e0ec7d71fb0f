"""Fuzzing every parser: no exception escapes, no hang (deadlines), memory bounded (small limits).

ASSAY_DEBUG=1 (conftest) makes an internal error raise instead of becoming a scan error, so any
parser bug fails here.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from assay.scan import ScanConfig
from assay.scan._context import ScanContext
from assay.scan._limits import ScanLimits
from assay.scan._pickle.handlers import PICKLE_OPCODES
from assay.scan._source import BytesBlob
from assay.scan._walk import dispatch

LIMITS = ScanLimits(max_pickle_opcodes=20_000, max_pickle_items=20_000, max_decompressed_bytes=8 << 20,
                    max_members=500, max_gguf_metadata_entries=20_000, max_protobuf_fields=50_000,
                    max_json_bytes=1 << 20, max_archive_depth=4, max_hdf5_seconds=2)


def scan_bytes(data: bytes, name: str = "fuzz.bin") -> ScanContext:
    ctx = ScanContext(ScanConfig(limits=LIMITS), name, dispatch)
    try:
        dispatch(BytesBlob(data), name, ctx)
    except Exception as exc:  # LimitExceeded may surface to the walker, which reports it; anything else is a bug
        from assay.scan._limits import LimitExceeded

        if not isinstance(exc, LimitExceeded):
            raise
    return ctx


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """Flip, overwrite, insert, delete and truncate bytes of a real file."""
    n = max(len(seed), 1)

    def apply(ops: list[tuple[int, int, int]]) -> bytes:
        data = bytearray(seed)
        for kind, pos, value in ops:
            pos %= max(len(data), 1)
            if kind == 0 and data:
                data[pos] ^= 1 << (value % 8)
            elif kind == 1 and data:
                data[pos] = value % 256
            elif kind == 2:
                data[pos:pos] = bytes([value % 256]) * (1 + value % 7)
            elif kind == 3 and data:
                del data[pos:pos + 1 + value % 16]
            elif kind == 4:
                del data[pos:]
        return bytes(data)

    return st.lists(st.tuples(st.integers(0, 4), st.integers(0, n * 2), st.integers(0, 255)), min_size=1,
                    max_size=8).map(apply)


def _opcode_stream() -> st.SearchStrategy[bytes]:
    piece = st.one_of(
        st.sampled_from(sorted(PICKLE_OPCODES)).map(lambda b: bytes([b])),
        st.binary(max_size=9),
        st.sampled_from([b"os\n", b"system\n", b"\x8c\x02os", b"\x8c\x06system", b"\x93", b"R", b"(", b"t", b".",
                         b"\x95\x08\x00\x00\x00\x00\x00\x00\x00", b"q\x00", b"h\x00", b"\x94", b"b", b"\x81"]),
    )
    return st.lists(piece, max_size=60).map(lambda parts: b"\x80\x04" + b"".join(parts))


@given(st.binary(max_size=4096))
def test_random_bytes_never_crash(data: bytes) -> None:
    for name in ("x.pkl", "x.onnx", "saved_model.pb", "config.json", "x.py", "chat_template.jinja", "x.bin"):
        scan_bytes(data, name)


@given(_opcode_stream())
def test_pickle_machine_on_opcode_soup(data: bytes) -> None:
    scan_bytes(data, "soup.pkl")


@pytest.fixture(scope="module")
def seeds(benign_dir: Path) -> dict[str, bytes]:
    names = {"pickle": "pipeline.pkl", "joblib": "mixed_arrays.joblib", "torch": "state_dict.pt",
             "legacy": "legacy_format.bin", "npy": "objects.npy", "npz": "arrays_compressed.npz",
             "safetensors": "model.safetensors", "gguf": "llama3.gguf", "onnx": "inline.onnx",
             "lz4": "pipeline_lz4.joblib", "keras": "model.keras", "savedmodel": "saved_model/saved_model.pb",
             "h5": "legacy_model.h5"}
    return {k: (benign_dir / v).read_bytes()[:300_000] for k, v in names.items()}


@pytest.mark.parametrize("kind", ["pickle", "joblib", "torch", "legacy", "npy", "npz", "safetensors", "gguf", "onnx",
                                  "lz4", "keras", "savedmodel", "h5"])
def test_mutated_real_files_never_crash(seeds: dict[str, bytes], kind: str) -> None:
    name = {"onnx": "model.onnx", "savedmodel": "saved_model.pb"}.get(kind, f"model.{kind}")

    @given(mutations(seeds[kind]))
    def check(data: bytes) -> None:
        scan_bytes(data, name)

    check()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=10), c, max_size=5),
                           max_leaves=30)


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
@example({"": {"dtype": []}})  # found by the fuzzer: an unhashable dtype crashed the table look-up
@example({"w": {"dtype": {"F32": 1}, "shape": [1], "data_offsets": [0, 4]}})
def test_safetensors_header_fuzz(header: dict[str, object]) -> None:
    raw = json.dumps(header).encode()
    scan_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 64, "x.safetensors")


@given(json_values)
def test_keras_and_hf_configs_fuzz(doc: object) -> None:
    from assay.scan._formats.keras import check_keras_json

    text = json.dumps(doc)
    ctx = scan_bytes(text.encode(), "config.json")
    check_keras_json(text, ctx)
    scan_bytes(json.dumps({"chat_template": doc, "auto_map": doc}).encode(), "tokenizer_config.json")


@given(st.text(max_size=300))
def test_chat_template_fuzz(text: str) -> None:
    from assay.scan._formats.chat_template import template_problems

    template_problems(text)
    template_problems("{{ " + text + " }}")


def test_deep_nesting_is_bounded() -> None:
    scan_bytes(b"\x80\x02" + b"]" * 200_000 + b".", "deep.pkl")
    scan_bytes(json.dumps({"chat_template": "x"}).encode() + b"[" * 100_000, "config.json")
    deep = "[" * 50_000 + "]" * 50_000
    scan_bytes(struct.pack("<Q", len(deep)) + deep.encode(), "x.safetensors")
    scan_bytes(b"{% if " * 5000, "chat_template.jinja")
    scan_bytes(pickle.dumps([[[[[[[[[[[]]]]]]]]]]]), "nested.pkl")


def test_hdf5_input_that_hangs_libhdf5_is_cut_off(benign_dir: Path, tmp_path: Path) -> None:
    """Found by the fuzzer: one zero byte inserted at offset 3571 of a real Keras H5 file makes
    libhdf5 loop forever. The scan must end at max_hdf5_seconds with a named error."""
    import assay
    from assay.scan import ScanLimits

    data = bytearray((benign_dir / "legacy_model.h5").read_bytes())
    data[3571:3571] = b"\0"
    path = tmp_path / "hangs.h5"
    path.write_bytes(bytes(data))
    report = assay.scan(path, limits=ScanLimits(max_hdf5_seconds=2))
    assert report.exit_code == 2
    assert report.all_errors[0].limit == "max_hdf5_seconds"
