"""Containers are read the way their loaders read them (issue 11, loader parity for containers).

Each malicious variant is built here byte by byte with a harmless payload, scanned (exit code 1), and opened by
its real loader in a child process whose audit hook records and blocks process events, to prove the loader
reaches the payload. Benign variants load cleanly and scan without findings of medium or above.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.scan import Severity
from assay.scan._sniff import is_tar_header, sniff
from assay.scan._source import BytesBlob

PAYLOAD = b"cos\nsystem\n(S'echo assay-test'\ntR."
PAYLOAD2 = b"\x80\x02cos\nsystem\nq\x00X\x0f\x00\x00\x00echo assay-testq\x01\x85q\x02Rq\x03."
BENIGN = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."

_CHILD = r"""
import json, sys
seen = []
def hook(event, args):
    if event.startswith(("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "os.fork")):
        seen.append(event)
        raise PermissionError("blocked by the test")
loader, path = sys.argv[1], sys.argv[2]
if loader == "torch":
    import torch
elif loader == "torch-jit":
    import torch
elif loader == "joblib":
    import joblib
sys.addaudithook(hook)
error = None
try:
    if loader == "torch":
        torch.load(path, weights_only=False)
    elif loader == "torch-jit":
        torch.jit.load(path)
    elif loader == "joblib":
        joblib.load(path)
except BaseException as exc:
    error = f"{type(exc).__name__}: {exc}"[:300]
print(json.dumps({"seen": seen, "error": error}))
"""


def load_in_child(loader: str, path: Path) -> dict[str, object]:
    """Open ``path`` with the real loader in a child process; process events are recorded and blocked."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, loader, str(path)], capture_output=True, text=True,
                          timeout=180, cwd=str(path.parent))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fires(loader: str, path: Path) -> bool:
    """True when the real loader reached the payload (a blocked process event)."""
    return bool(load_in_child(loader, path)["seen"])


def blocks(path: Path) -> bool:
    report = assay.scan(path)
    return report.exit_code == 1


def worst(path: Path) -> Severity | None:
    return max((f.severity for f in assay.scan(path).findings), default=None)


def rules(path: Path) -> set[str]:
    return {f.rule for f in assay.scan(path).findings}


# ---- 1. compressed streams, as joblib.load detects and reads them ----------------------------------------------

def _bz2_empty_first() -> bytes:
    return bz2.compress(b"") + bz2.compress(PAYLOAD2)


def _lzma_alone(data: bytes, dict_size: int, length: int | None, props: int = 0x5D) -> bytes:
    """An .lzma file with a hand-written header (liblzma accepts more than joblib ever writes)."""
    lc, rest = props % 9, props // 9
    lp, pb = rest % 5, rest // 5
    raw = lzma.compress(data, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 1 << 16,
                                                                 "lc": lc, "lp": lp, "pb": pb}])
    size = (1 << 64) - 1 if length is None else length
    return bytes([props]) + struct.pack("<IQ", dict_size, size) + raw


COMPRESSED = {
    "bz2_empty_first_stream": _bz2_empty_first,
    "bz2_trailing_garbage": lambda: bz2.compress(PAYLOAD2) + b"not bzip2 at all",
    "lzma_alone_odd_dict": lambda: _lzma_alone(PAYLOAD2, 3 << 20, None),
    "lzma_alone_dict_zero": lambda: _lzma_alone(PAYLOAD2, 0, None),
    "lzma_alone_known_length": lambda: _lzma_alone(PAYLOAD2, 1 << 24, len(PAYLOAD2)),
    "xz_padding_then_stream": lambda: lzma.compress(b"") + b"\0" * 4 + lzma.compress(PAYLOAD2),
    "xz_two_streams": lambda: lzma.compress(b"\x80\x02") + lzma.compress(PAYLOAD2[2:]),
    "gzip_members_split": lambda: gzip.compress(PAYLOAD2[:9]) + gzip.compress(PAYLOAD2[9:]),
    "zlib_odd_header": lambda: zlib.compress(PAYLOAD2, 0),
    "zlib_trailing": lambda: zlib.compress(PAYLOAD2) + b"\x00garbage",
    "joblib_zfile": lambda: b"ZF0x" + format(len(PAYLOAD2), "x").ljust(17).encode() + zlib.compress(PAYLOAD2),
    "lz4_two_frames": lambda: __import__("lz4.frame").frame.compress(PAYLOAD2[:5])
    + __import__("lz4.frame").frame.compress(PAYLOAD2[5:]),
}


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_compressed_variant_blocks(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.joblib"
    path.write_bytes(COMPRESSED[name]())
    report = assay.scan(path)
    assert report.exit_code == 1, [(f.rule, f.message) for f in report.findings] + [e.message for e in report.errors]
    assert any(f.rule == "AS101" and "os.system" in f.message for f in report.findings)


@pytest.mark.parametrize("name", ["bz2_empty_first_stream", "lzma_alone_odd_dict", "xz_two_streams",
                                  "joblib_zfile", "zlib_odd_header", "bz2_trailing_garbage"])
def test_compressed_variant_fires_in_joblib(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.joblib"
    path.write_bytes(COMPRESSED[name]())
    assert fires("joblib", path), load_in_child("joblib", path)


@pytest.mark.parametrize("codec", ["gzip", "bz2", "xz", "lzma", "zlib"])
def test_benign_compressed_stream_is_clean(tmp_path: Path, codec: str) -> None:
    data = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zlib": zlib.compress,
            "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)}[codec](BENIGN)
    path = tmp_path / f"b.{codec}"
    path.write_bytes(data)
    report = assay.scan(path)
    assert report.exit_code == 0 and not report.findings, [(f.rule, f.message) for f in report.findings]


def test_lzma_header_sniff_matches_liblzma() -> None:
    """Every header liblzma's auto decoder accepts is sniffed as .lzma (and the decompressor decides the rest)."""
    for props in (0x5D, 0, 18, 224):
        for dict_size in (0, 1, 3 << 20, 1 << 31, 0xFFFFFFFF):
            for length in (0, (1 << 38) - 1, (1 << 64) - 1):
                head = bytes([props]) + struct.pack("<IQ", dict_size, length) + b"\0" * 8
                try:
                    lzma.LZMADecompressor(lzma.FORMAT_AUTO).decompress(head)
                    accepted = True
                except lzma.LZMAError:
                    accepted = False
                if accepted:
                    assert "lzma-alone" in sniff(BytesBlob(head), "x"), (props, dict_size, length)


def test_lzma_payload_with_other_props_blocks(tmp_path: Path) -> None:
    path = tmp_path / "model.lzma"
    path.write_bytes(_lzma_alone(PAYLOAD2, 1 << 20, None, props=18))  # lc=0 lp=2 pb=0
    assert lzma.LZMAFile(io.BytesIO(path.read_bytes())).read() == PAYLOAD2
    assert blocks(path)


# ---- 2. legacy torch checkpoints read as tar ---------------------------------------------------------------------

_STORAGE_DESC = b"\x80\x02(K\x00X\x03\x00\x00\x00cpuctorch\nFloatStorage\ntq\x00."


def _storages(views: bytes = b"\x80\x02]q\x00.", storage_type: bytes = b"torch\nFloatStorage") -> bytes:
    desc = _STORAGE_DESC.replace(b"torch\nFloatStorage", storage_type)
    return b"\x80\x02K\x01." + desc + struct.pack("<q", 2) + b"\x00" * 8 + views


def _tensors() -> bytes:
    return b"\x80\x02K\x00."


def _tar(members: list[tuple[str, bytes]], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _v7_tar(members: list[tuple[str, bytes]]) -> bytes:
    """A tar with old v7 headers: no ustar magic at all (tarfile still reads it by checksum)."""
    out = bytearray()
    for name, data in members:
        header = bytearray(512)
        header[0:len(name)] = name.encode()
        header[100:108] = b"0000644\0"
        header[108:116] = b"0000000\0"
        header[116:124] = b"0000000\0"
        header[124:136] = f"{len(data):011o}\0".encode()
        header[136:148] = b"00000000000\0"
        header[148:156] = b" " * 8
        header[156:157] = b"0"
        header[148:156] = f"{sum(header):06o}\0 ".encode()
        out += header + data + b"\0" * (-len(data) % 512)
    return bytes(out + b"\0" * 1024)


def _tar_with_hardlink() -> bytes:
    """'pickle' is a hard link to a member named like a numpy file: tarfile delivers the linked data."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in [("storages", _storages()), ("tensors", _tensors()), ("weights.npy", PAYLOAD)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("pickle")
        link.type, link.linkname = tarfile.LNKTYPE, "weights.npy"
        tar.addfile(link)
    return out.getvalue()


def _benign_legacy() -> list[tuple[str, bytes]]:
    return [("storages", _storages()), ("tensors", _tensors()), ("pickle", BENIGN)]


LEGACY = {
    "pickle_after_storage_bytes": lambda: _tar([("storages", _storages(views=PAYLOAD)), ("tensors", _tensors()),
                                                ("pickle", BENIGN)]),
    "no_ustar_magic": lambda: _v7_tar([("storages", _storages()), ("tensors", _tensors()), ("pickle", PAYLOAD)]),
    "duplicate_name_last_wins": lambda: _tar(_benign_legacy() + [("pickle", PAYLOAD)]),
    "hardlink_to_payload": lambda: _tar_with_hardlink(),
    "member_looks_like_gguf": lambda: _tar([("storages", _storages()), ("tensors", _tensors()),
                                            ("pickle", b"GGUF\x03\x00\x00\x00\x00" + b"0" + PAYLOAD)]),
    "gnu_format": lambda: _tar([("storages", _storages(views=PAYLOAD)), ("tensors", _tensors()),
                                ("pickle", BENIGN)], tarfile.GNU_FORMAT),
}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_tar_variant_blocks_and_fires(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pt"
    path.write_bytes(LEGACY[name]())
    report = assay.scan(path)
    assert report.exit_code == 1, [(f.rule, f.message) for f in report.findings]
    assert any(f.rule == "AS101" and "os.system" in f.message for f in report.findings)
    assert fires("torch", path), load_in_child("torch", path)


def test_legacy_tar_unknown_storage_type_is_high(tmp_path: Path) -> None:
    path = tmp_path / "odd.pt"
    path.write_bytes(_tar([("storages", _storages(storage_type=b"torch\nMysteryStorage")), ("tensors", _tensors()),
                           ("pickle", BENIGN)]))
    report = assay.scan(path)
    hits = [f for f in report.findings if f.rule == "AS112"]
    assert hits and hits[0].severity >= Severity.HIGH and "MysteryStorage" in hits[0].message
    assert report.exit_code == 1


def test_benign_legacy_tar_loads_and_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    path.write_bytes(_tar(_benign_legacy()))
    result = load_in_child("torch", path)
    assert result == {"seen": [], "error": None}
    assert (worst(path) or Severity.INFO) < Severity.MEDIUM, [f.message for f in assay.scan(path).findings]


def test_tar_sniffed_by_checksum() -> None:
    data = _v7_tar([("a", b"x")])
    assert is_tar_header(data[:512]) and data[257:262] != b"ustar"
    tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # Python agrees
    assert "tar" in sniff(BytesBlob(data), "x")
    broken = data[:148] + b"0000001\0" + data[156:]
    assert not is_tar_header(broken[:512])


# ---- fuzz: no crash, no hang on random bytes ---------------------------------------------------------------------

_PREFIXES = [b"", b"BZh9", b"\x5d\x00", b"\xfd7zXZ\x00", b"\x1f\x8b", b"x\x9c", b"ZF0x", b"\x04\x22\x4d\x18"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(_PREFIXES), body=st.binary(max_size=600))
def test_fuzz_compressed_and_tar_never_crash(tmp_path: Path, prefix: bytes, body: bytes) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(prefix + body)
    report = assay.scan(path)  # ASSAY_DEBUG=1: any scanner exception fails the test
    assert report.exit_code in (0, 1, 2)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=300), cut=st.integers(0, 3000))
def test_fuzz_legacy_tar_members_never_crash(tmp_path: Path, data: bytes, cut: int) -> None:
    blob = _tar([("storages", _storages()[: cut % 60] + data), ("tensors", data), ("pickle", data)])
    path = tmp_path / "f.pt"
    path.write_bytes(blob[: max(512, len(blob) - cut)])
    assert assay.scan(path).exit_code in (0, 1, 2)


def test_environment_has_debug() -> None:
    assert os.environ.get("ASSAY_DEBUG") == "1"


# ---- 3. zip as torch's reader (miniz) resolves it ----------------------------------------------------------------

def _local(name: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data) & 0xFFFFFFFF
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0) + name + data


def _central(name: bytes, data: bytes, offset: int) -> bytes:
    crc = zlib.crc32(data) & 0xFFFFFFFF
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(data), len(data),
                       len(name), 0, 0, 0, 0, 0, offset) + name


def _zip64_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)


def _torch_members(tmp_path: Path) -> list[tuple[bytes, bytes]]:
    """The members of a real (tiny) torch.save checkpoint, in order."""
    import zipfile

    import torch

    src = tmp_path / "real.pt"
    torch.save({"a": 1}, src)
    with zipfile.ZipFile(src) as zf:
        return [(info.filename.encode(), zf.read(info)) for info in zf.infolist()]


def _miniz_zip64_split(members: list[tuple[bytes, bytes]]) -> bytes:
    """Two central directories: zipfile reads the zip64 record right before the locator (benign data.pkl);
    torch's miniz reads the one at the offset the locator stores (data.pkl replaced by the payload)."""
    out = bytearray()
    offsets = []
    for name, data in members:
        offsets.append(len(out))
        out += _local(name, data)
    pkl_name = next(n for n, _ in members if n.endswith(b"/data.pkl"))
    evil_offset = len(out)
    out += _local(pkl_name, PAYLOAD)
    dir_b_start = len(out)
    for (name, data), off in zip(members, offsets, strict=True):
        out += _central(name, PAYLOAD, evil_offset) if name == pkl_name else _central(name, data, off)
    dir_b_size = len(out) - dir_b_start
    rec_b = len(out)
    out += _zip64_record(len(members), dir_b_size, dir_b_start)
    dir_a_start = len(out)
    for (name, data), off in zip(members, offsets, strict=True):
        out += _central(name, data, off)
    dir_a_size = len(out) - dir_a_start
    out += _zip64_record(len(members), dir_a_size, dir_a_start)
    out += struct.pack("<4sIQI", b"PK\x06\x07", 0, rec_b, 1)
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), dir_a_size, dir_a_start, 0)
    return bytes(out)


def test_zip64_locator_offset_followed_like_miniz(tmp_path: Path) -> None:
    import zipfile

    import torch

    path = tmp_path / "split.pt"
    path.write_bytes(_miniz_zip64_split(_torch_members(tmp_path)))
    pkl = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith("data.pkl"))
    assert zipfile.ZipFile(path).read(pkl) != PAYLOAD  # Python's zipfile sees the benign pickle
    assert torch._C.PyTorchFileReader(str(path)).get_record("data.pkl") == PAYLOAD  # torch sees the payload
    report = assay.scan(path)
    assert report.exit_code == 1
    assert any(f.rule == "AS101" and "os.system" in f.message for f in report.findings)
    assert any(f.rule == "AS206" and f.severity >= Severity.HIGH for f in report.findings)
    assert fires("torch", path), load_in_child("torch", path)


def test_fake_eocd_in_comment_is_followed(tmp_path: Path) -> None:
    real = _local(b"archive/data.pkl", BENIGN)
    evil = _local(b"archive/data.pkl", PAYLOAD)
    out = real + evil
    cd_real = _central(b"archive/data.pkl", BENIGN, 0)
    cd_evil = _central(b"archive/data.pkl", PAYLOAD, len(real))
    start = len(out)
    out += cd_real + cd_evil
    fake = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd_evil), start + len(cd_real), 0)
    comment = fake + b"x" * 4
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd_real), start, len(comment)) + comment
    path = tmp_path / "comment.pt"
    path.write_bytes(out)
    report = assay.scan(path)
    assert report.exit_code == 1
    assert any(f.rule == "AS101" and "os.system" in f.message for f in report.findings)


def test_benign_torch_zip_is_clean(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "ok.pt"
    torch.save({"w": torch.zeros(3)}, path)
    report = assay.scan(path)
    assert report.exit_code == 0 and not any(f.severity >= Severity.MEDIUM for f in report.findings)


# ---- 4. TorchScript code read token by token ---------------------------------------------------------------------

TS_VARIANTS = {
    "spaces": "    return ops . aten . from_file(p, None, 3)\n",
    "newline_in_parens": "    return (ops.aten\n        .from_file)(p, None, 3)\n",
    "comment_between": "    return (ops.aten  # note\n        .from_file)(p, None, 3)\n",
    "torch_spaced": "    return (torch\n        . from_file)(p)\n",
    "torch_ops_save": "    torch . ops . aten . save(x, p)\n",
}


def _torchscript_zip(code: str) -> bytes:
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("m/data.pkl", BENIGN)
        zf.writestr("m/constants.pkl", b"\x80\x02).")
        zf.writestr("m/code/__torch__.py", "def forward(self, p: str) -> Tensor:\n" + code)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(TS_VARIANTS))
def test_torchscript_spelling_variants_block(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pt"
    path.write_bytes(_torchscript_zip(TS_VARIANTS[name]))
    report = assay.scan(path)
    assert any(f.rule == "AS301" and f.severity >= Severity.HIGH for f in report.findings), report.findings
    assert report.exit_code == 1


def test_torchscript_compiler_accepts_spaced_chains() -> None:
    import torch

    for source in ("def f(p: str) -> torch.Tensor:\n    return torch . ops . aten . from_file(p, None, 3)\n",
                   "def f(p: str) -> torch.Tensor:\n    return (torch.ops.aten\n        .from_file)(p, None, 3)\n"):
        torch.jit.CompilationUnit(source)  # compiles: the loader would run this operator


def test_torchscript_strings_and_comments_do_not_match(tmp_path: Path) -> None:
    code = "    # ops.aten.from_file is not called\n    s = 'ops.aten.save'\n    return ops.aten.add(x, y)\n"
    path = tmp_path / "ok.pt"
    path.write_bytes(_torchscript_zip(code))
    assert not [f for f in assay.scan(path).findings if f.rule == "AS301"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_torchscript_tokens_never_crash(text: str) -> None:
    from assay.scan._formats.torchscript import _chains

    _chains(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=200), cut=st.integers(0, 400))
def test_fuzz_zip_directories_never_crash(tmp_path: Path, tail: bytes, cut: int) -> None:
    data = _miniz_zip64_split([(b"archive/data.pkl", BENIGN), (b"archive/version", b"3\n")])
    path = tmp_path / "z.pt"
    path.write_bytes(data[: max(0, len(data) - cut)] + tail + data[-22:])
    assert assay.scan(path).exit_code in (0, 1, 2)
