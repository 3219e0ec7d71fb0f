"""Differential fuzzers (issue 11, item 5): assay against the real loaders on generated inputs.

- pickles generated opcode by opcode, opened by pickle.load in the oracle (a batch per hypothesis example):
  assay may not say clean (exit 0) when the loader resolved a global outside assay's allow-list or reached a
  blocked action;
- .npy headers generated, parsed by numpy's own header reader in-process: when numpy reads an object dtype,
  assay reports AS311 or AS112;
- zip files generated with struct, read by torch's own zip reader in-process: when torch reads the payload
  pickle as data.pkl, assay exits 1.

Bounded in CI by ASSAY_FUZZ_EXAMPLES (default 60) examples per fuzzer; the long campaign is in
docs/scan-campaign.md. Work is bounded, never wall-clock: no deadlines.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.scan._pickle.verdict import classify
from tests.fixtures.round2 import _npy
from tests.scan.oracle_batch import run_batch

EXAMPLES = int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "60"))
BATCH = 30
"""Pickles per hypothesis example: one oracle child loads them all (a fork each); the pickle fuzzer runs
ASSAY_FUZZ_EXAMPLES pickles in all, so ASSAY_FUZZ_EXAMPLES // BATCH examples (at least 2)."""
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("ASSAY_FUZZ_SEED") is None,
                    suppress_health_check=list(HealthCheck), database=None)

# ------------------------------------------------------------------------------------------------ pickles

SAFE_NAMES = [("builtins", "dict"), ("builtins", "list"), ("builtins", "set"), ("collections", "OrderedDict"),
              ("numpy.core.multiarray", "_reconstruct"), ("numpy", "dtype"), ("numpy", "ndarray"),
              ("torch._utils", "_rebuild_tensor_v2"), ("copyreg", "_reconstructor"), ("functools", "partial"),
              ("builtins", "getattr"), ("datetime", "datetime"), ("numpy.random._pickle", "__randomstate_ctor")]
BAD_NAMES = [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("subprocess", "Popen"),
             ("subprocess", "getoutput"), ("tempfile", "_os.system"), ("shutil", "os.system"),
             ("operator", "attrgetter"), ("importlib", "import_module"), ("numpy.lib._npyio_impl", "os.system"),
             ("builtins", "object.__subclasses__"), ("joblib.externals.loky.backend.utils", "subprocess.Popen")]
STRINGS = ["echo assay-test", "system", "os", "1+1", "tofile", "x", "__class__", "split"]
"""Harmless arguments: a process gets 'echo assay-test' (and is blocked by the oracle); eval gets '1+1'."""
ODD_INTS = [b"0x1f", b"1_0", b" 12", b"1\x00junk", b"00", b"01", b"-0b1", b"+3", b"0o7"]


def _text(s: str, how: int) -> bytes:
    raw = s.encode()
    if how == 0:
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw
    if how == 1:
        return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw
    return b"S'" + raw + b"'\n"


def _name_ops(draw: st.DrawFn) -> bytes:
    module, name = draw(st.sampled_from(SAFE_NAMES + BAD_NAMES))
    if draw(st.booleans()) and "." not in name:
        return pickle.GLOBAL + f"{module}\n{name}\n".encode()
    return _text(module, draw(st.integers(0, 2))) + _text(name, draw(st.integers(0, 2))) + pickle.STACK_GLOBAL


@st.composite
def _atom(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 13))
    if kind == 0:
        return _name_ops(draw)
    if kind == 1:
        return _text(draw(st.sampled_from(STRINGS)), draw(st.integers(0, 2)))
    if kind == 2:
        return b"I" + draw(st.sampled_from(ODD_INTS)) + b"\n"
    if kind == 3:
        return b"L" + draw(st.sampled_from(ODD_INTS)) + draw(st.sampled_from([b"", b"L"])) + b"\n"
    if kind == 4:
        return pickle.BININT1 + bytes([draw(st.integers(0, 255))])
    if kind == 5:  # a call macro: callable, arguments, REDUCE
        args = b"".join(draw(st.lists(st.one_of(st.sampled_from(STRINGS).map(lambda s: _text(s, 0)),
                                                 st.just(pickle.GLOBAL + b"os\nsystem\n")), max_size=3)))
        return _name_ops(draw) + pickle.MARK + args + pickle.TUPLE + pickle.REDUCE
    if kind == 6:
        return draw(st.sampled_from([pickle.PUT + b"1\n", pickle.PUT + b"1_0\n", pickle.BINPUT + b"\x01",
                                     pickle.MEMOIZE, pickle.GET + b"1\n", pickle.GET + b"10\n",
                                     pickle.BINGET + b"\x01", pickle.BINGET + b"\x00"]))
    if kind == 7:
        return draw(st.sampled_from([pickle.MARK, pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.EMPTY_TUPLE,
                                     pickle.LIST, pickle.EMPTY_LIST, pickle.APPEND, pickle.APPENDS, pickle.DICT,
                                     pickle.EMPTY_DICT, pickle.SETITEM, pickle.SETITEMS]))
    if kind == 8:
        return draw(st.sampled_from([pickle.REDUCE, pickle.BUILD, pickle.NEWOBJ, pickle.POP, pickle.DUP]))
    if kind == 9:
        return draw(st.sampled_from([pickle.NONE, pickle.NEWTRUE, pickle.NEWFALSE]))
    return _name_ops(draw) if kind < 12 else _text(draw(st.sampled_from(STRINGS)), 0)


@st.composite
def pickles(draw: st.DrawFn) -> bytes:
    """A pickle stream from the grammar: optional PROTO and FRAME, a run of atoms, STOP."""
    body = b"".join(draw(st.lists(_atom(), min_size=1, max_size=14))) + pickle.STOP
    version = draw(st.sampled_from([None, 2, 4, 5]))
    if version is not None and version >= 4 and draw(st.booleans()):
        body = pickle.FRAME + struct.pack("<Q", len(body)) + body
    return (pickle.PROTO + bytes([version]) if version else b"") + body


@settings(SETTINGS, max_examples=max(2, EXAMPLES // BATCH))
@given(st.lists(pickles(), min_size=BATCH, max_size=BATCH))
def test_pickle_scan_is_never_clean_when_the_loader_resolves_more(tmp_path_factory, streams: list[bytes]) -> None:
    folder = tmp_path_factory.mktemp("pickles")
    paths = []
    for i, data in enumerate(streams):
        path = folder / f"p{i}.pkl"
        path.write_bytes(data)
        paths.append(path)
    results = run_batch([("pickle", p) for p in paths], preload=("numpy", "torch", "joblib"))
    for path, data, result in zip(paths, streams, results, strict=True):
        report = assay.scan(path, jobs=1)
        if report.exit_code != 0:
            continue
        outside = [(m, n) for m, n in result.find_class if classify(m, n).kind != "safe"]
        assert not outside and not result.fired, (data, outside, result.blocked)


# ------------------------------------------------------------------------------------------------ npy headers

_DESCRS = st.recursive(
    st.sampled_from(["'<f8'", "'|O'", "'O'", "'object'", "'O8'", "'i4,O'", "'<i4'", "'|b1'", "'<U3'", "'|S2'",
                     "'|V8'", "'<M8[s]'", "'f8,f8'", "'int32'", "'object_'", "u'|O'", "'>i2'", "'?'"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["(2,)", "2", "(1, 2)", "()"])).map(lambda t: f"({t[0]}, {t[1]})"),
        st.lists(st.tuples(st.sampled_from(["'a'", "'b'", "('t', 'c')"]), inner), min_size=1, max_size=3,
                 unique_by=lambda t: t[0]).map(lambda fs: "[" + ", ".join(f"({n}, {d})" for n, d in fs) + "]")),
    max_leaves=4)


@st.composite
def npy_headers(draw: st.DrawFn) -> tuple[str, tuple[int, int]]:
    """A header dictionary in the many spellings numpy's parser accepts."""
    shape = draw(st.sampled_from(["(1,)", "(1L,)", "(2, 1)", "()", "(1, )", "[1]"]))
    items = [f"'descr': {draw(_DESCRS)}", f"'fortran_order': {draw(st.sampled_from(['False', 'True', '0']))}",
             f"'shape': {shape}"]
    order = draw(st.permutations(items))
    text = "{" + draw(st.sampled_from([", ", ",", " , "])).join(order) + draw(st.sampled_from([", }", "}", ",}"]))
    return text, draw(st.sampled_from([(1, 0), (2, 0), (3, 0)]))


def _numpy_header_reader():  # noqa: ANN202 - numpy's private function, whatever its signature
    """numpy's own header parser, the one numpy.load uses for every version (moved in numpy 2)."""
    import numpy.lib.format

    reader = getattr(numpy.lib.format, "_read_array_header", None)
    if reader is None:
        from numpy.lib import _format_impl

        reader = _format_impl._read_array_header
    return reader


def _numpy_object(data: bytes) -> bool | None:
    """What numpy's own header parser says: True for an object dtype, None when numpy refuses the header."""
    import numpy

    fp = io.BytesIO(data)
    try:
        version = numpy.lib.format.read_magic(fp)
        reader = _numpy_header_reader()
        _, _, dtype = reader(fp, version, max_header_size=100000)
    except Exception:
        return None
    return bool(dtype.hasobject)


def test_numpy_header_oracle_sees_object_spellings() -> None:
    """The npy fuzzer is not vacuous: numpy's parser is reached and reads these spellings as object."""
    for descr in ("'object'", "('O', (2,))", "'i4,O'"):
        assert _numpy_object(_npy(f"{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}", b"")), descr
    assert _numpy_object(_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1L,), }", b""))
    assert _numpy_object(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", b"")) is False


@SETTINGS
@given(npy_headers())
def test_npy_object_dtype_is_always_reported(tmp_path_factory, header: tuple[str, tuple[int, int]]) -> None:
    text, version = header
    data = _npy(text, pickle.dumps([1], protocol=2), version)
    if not _numpy_object(data):
        return
    path = tmp_path_factory.mktemp("npy") / "a.npy"
    path.write_bytes(data)
    report = assay.scan(path, jobs=1)
    rules = {f.rule for f in report.findings}
    assert rules & {"AS311", "AS112"} or report.all_errors, (text, version, rules)


# ------------------------------------------------------------------------------------------------ zip files

PAYLOAD = (pickle.PROTO + b"\x02" + pickle.GLOBAL + b"os\nsystem\n" + pickle.SHORT_BINUNICODE + b"\x0fecho assay-test"
           + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP)
BENIGN = pickle.dumps({"w": 1}, protocol=2)


def _local(out: bytearray, name: bytes, data: bytes) -> tuple[int, bytes, int, int]:
    offset = len(out)
    crc = zlib.crc32(data)
    out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0) + name
    out += data
    return offset, name, crc, len(data)


def _central(out: bytearray, entries: list[tuple[int, bytes, int, int]]) -> tuple[int, int]:
    start = len(out)
    for offset, name, crc, size in entries:
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 20, 0, 0, 0, 0, crc, size, size, len(name), 0, 0, 0,
                           0, 0, offset) + name
    return start, len(out) - start


@st.composite
def zips(draw: st.DrawFn) -> bytes:
    """A torch-style zip: members in any order, duplicate data.pkl, two directories, zip64 records, junk around."""
    out = bytearray(draw(st.sampled_from([b"", b"\x00" * 7, BENIGN, b"PK\x03\x04junk"])))
    members = [(b"archive/version", b"3\n"), (b"archive/byteorder", b"little"), (b"archive/data.pkl", BENIGN),
               (b"archive/data.pkl", PAYLOAD)]
    chosen = draw(st.lists(st.sampled_from(members), min_size=1, max_size=5))
    entries = [_local(out, n, d) for n, d in chosen]
    first = _central(out, draw(st.permutations(entries)))
    second = _central(out, draw(st.lists(st.sampled_from(entries), min_size=1, max_size=4)))
    count = len(entries)
    z64 = draw(st.sampled_from(["none", "same", "locator-first", "locator-second"]))
    cd_start, cd_size = first if draw(st.booleans()) else second
    if z64 != "none":
        records = {}
        for label, (start, size) in (("first", first), ("second", second)):
            records[label] = len(out)
            out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start)
        target = records["second" if z64 == "locator-second" else "first"]
        out += struct.pack("<IIQI", 0x07064B50, 0, target, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        comment = draw(st.sampled_from([b"", b"x" * 5]))
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_start, len(comment)) + comment
    return bytes(out + draw(st.sampled_from([b"", b"\x00" * 3, b"PK\x05\x06"])))


def _torch_reads(path: Path) -> bytes | None:
    """The bytes torch's zip reader (miniz) returns for <prefix>/data.pkl, or None when it refuses the file."""
    import torch

    try:
        reader = torch._C.PyTorchFileReader(str(path))
        names = [n for n in reader.get_all_records() if n.endswith("data.pkl")]
        return bytes(reader.get_record(names[0])) if names else None
    except Exception:
        return None


@SETTINGS
@given(zips())
def test_zip_payload_torch_reads_always_blocks(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("zip") / "model.pt"
    path.write_bytes(data)
    if _torch_reads(path) != PAYLOAD:
        return
    report = assay.scan(path, jobs=1)
    assert report.exit_code == 1, [(f.rule, f.severity.label, f.message) for f in report.findings]
