"""Default deny, exact allow-list names, argument contracts, symbolic getattr and CPython's number parsing.

Each malicious sample is proven by the loader oracle (tests/scan/oracle.py) to reach its payload with the real
loader; each benign one is written by the real pickler and loads cleanly.
"""

from __future__ import annotations

import datetime
import os
import pickle
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assay
from assay.scan import Severity
from assay.scan._pickle.verdict import classify
from tests.fixtures.opcodes import STOP, glob, proto, sbu, stack_global
from tests.scan.oracle import run_loader

PAYLOAD = "echo assay-test"
EXAMPLES = int(os.environ.get("ASSAY_FUZZ_EXAMPLES", "60"))


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _high(report: assay.ScanReport) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in report.findings if f.severity >= Severity.HIGH]


# ---- default deny and exact names --------------------------------------------------------------------
def test_a_name_on_no_list_blocks_and_says_how_to_allow_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "net.pkl", proto(4) + stack_global("mypackage.models", "Net") + pickle.EMPTY_TUPLE
                  + pickle.NEWOBJ + STOP)
    report = assay.scan(path)
    assert report.exit_code == 1
    assert any("--allow mypackage.models.Net" in message for _, message in _high(report))
    assert assay.scan(path, allow=["mypackage.models.Net"]).exit_code == 0
    assert assay.scan(path, allow=["mypackage.*"]).exit_code == 0


@pytest.mark.parametrize("module,name", [
    ("torch", "nn.modules.linear.Linear"),        # an allowed class reached through a longer attribute path
    ("torch.nn.modules", "linear.Linear"),
    ("collections", "OrderedDict.__init__"),      # through a dunder
    ("sklearn.utils", "logging.FileHandler"),     # a family pattern must not match a module's imports
    ("numpy.core.multiarray", "os.system"),
])
def test_allow_list_entries_never_match_through_an_attribute_path(module: str, name: str) -> None:
    assert classify(module, name).kind != "safe"
    assert classify(module, name).severity >= Severity.HIGH


@pytest.mark.parametrize("module,name", [("tempfile", "_os.system"), ("shutil", "_os.system"),
                                         ("asyncio.base_events", "_subprocess.Popen")])
def test_private_module_aliases_are_the_module(module: str, name: str) -> None:
    verdict = classify(module, name)
    assert verdict.kind == "dangerous" and verdict.severity is Severity.CRITICAL, verdict


def test_private_alias_payload_fires_and_is_caught(tmp_path: Path) -> None:
    path = _write(tmp_path, "alias.pkl", proto(4) + stack_global("tempfile", "_os.system") + sbu(PAYLOAD)
                  + pickle.TUPLE1 + pickle.REDUCE + STOP)
    assert run_loader("pickle", path).fired
    report = assay.scan(path)
    assert report.exit_code == 1 and report.findings[0].severity is Severity.CRITICAL


# ---- getattr, attrgetter, methodcaller -------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    str.split,
    datetime.datetime(2026, 1, 2, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
    {"tokenizer": str.split, "keys": dict.fromkeys},
])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_methods_pickled_through_getattr_are_clean(tmp_path: Path, value: object, protocol: int) -> None:
    path = _write(tmp_path, "methods.pkl", pickle.dumps(value, protocol=protocol))
    assert run_loader("pickle", path).clean
    report = assay.scan(path)
    assert report.exit_code == 0 and report.findings == (), [(f.rule, f.message) for f in report.findings]


def _getattr(target: bytes, name_ops: bytes) -> bytes:
    return stack_global("builtins", "getattr") + target + name_ops + pickle.TUPLE2 + pickle.REDUCE


def test_getattr_is_judged_as_the_attribute_it_names(tmp_path: Path) -> None:
    # numpy.ndarray.tofile writes a file: not on the allow-list, so the resolved name blocks.
    data = proto(4) + _getattr(stack_global("numpy", "ndarray"), sbu("tofile")) + pickle.POP + pickle.NONE + STOP
    report = assay.scan(_write(tmp_path, "tofile.pkl", data))
    assert report.exit_code == 1
    assert any("numpy.ndarray.tofile" in message for _, message in _high(report))


def test_getattr_of_a_dunder_is_critical(tmp_path: Path) -> None:
    data = proto(4) + _getattr(stack_global("collections", "OrderedDict"), sbu("__init__")) + STOP
    report = assay.scan(_write(tmp_path, "dunder.pkl", data))
    assert report.exit_code == 1 and max(f.severity for f in report.findings) is Severity.CRITICAL


def test_getattr_with_a_computed_name_blocks(tmp_path: Path) -> None:
    # The attribute name comes out of a call: str.join('', ['sys', 'tem']), only known at load time.
    name = _getattr(stack_global("builtins", "str"), sbu("join")) + sbu("") + pickle.EMPTY_LIST + pickle.MARK \
        + sbu("sys") + sbu("tem") + pickle.APPENDS + pickle.TUPLE2 + pickle.REDUCE
    data = proto(4) + _getattr(stack_global("os", "path"), name) + STOP
    report = assay.scan(_write(tmp_path, "computed.pkl", data))
    assert report.exit_code == 1
    assert any("getattr" in message for _, message in _high(report))


def test_getattr_passed_to_a_reconstructor_blocks(tmp_path: Path) -> None:
    # getattr used once as a plain method lookup, then handed to copyreg._reconstructor as the class it calls
    data = (proto(4) + stack_global("builtins", "getattr") + pickle.MEMOIZE + stack_global("builtins", "str")
            + sbu("split") + pickle.TUPLE2 + pickle.REDUCE + pickle.POP
            + stack_global("copyreg", "_reconstructor") + pickle.BINGET + b"\x00" + stack_global("builtins", "object")
            + pickle.NONE + pickle.TUPLE3 + pickle.REDUCE + STOP)
    report = assay.scan(_write(tmp_path, "handed.pkl", data))
    assert report.exit_code == 1


def test_methodcaller_is_judged_as_the_method_it_calls(tmp_path: Path) -> None:
    caller = stack_global("operator", "methodcaller") + sbu("tofile") + sbu("/tmp/x") + pickle.TUPLE2 + pickle.REDUCE
    data = proto(4) + caller + stack_global("numpy", "ndarray") + pickle.TUPLE1 + pickle.REDUCE + STOP
    report = assay.scan(_write(tmp_path, "caller.pkl", data))
    assert report.exit_code == 1
    assert any("numpy.ndarray.tofile" in message for _, message in _high(report))


def test_attrgetter_on_an_allowed_method_is_clean(tmp_path: Path) -> None:
    getter = stack_global("operator", "attrgetter") + sbu("split") + pickle.TUPLE1 + pickle.REDUCE
    data = proto(4) + getter + stack_global("builtins", "str") + pickle.TUPLE1 + pickle.REDUCE + STOP
    path = _write(tmp_path, "getter.pkl", data)
    assert run_loader("pickle", path).clean
    assert assay.scan(path).exit_code == 0


# ---- argument contracts ------------------------------------------------------------------------------------
def _dill_namedtuple() -> bytes:
    # dill's namedtuple creator imports modulename.name by string and returns the class it finds: Popen
    created = stack_global("dill._dill", "_create_namedtuple") + sbu("Popen") + pickle.EMPTY_TUPLE + sbu("subprocess") \
        + pickle.TUPLE3 + pickle.REDUCE
    return proto(4) + created + sbu("true") + pickle.TUPLE1 + pickle.REDUCE + STOP


def _partial() -> bytes:
    # functools.partial(posix.system, 'echo')(): the partial is called later, so its function must be allowed
    part = stack_global("functools", "partial") + glob("posix", "system") + sbu(PAYLOAD) + pickle.TUPLE2 + pickle.REDUCE
    return proto(4) + part + pickle.EMPTY_TUPLE + pickle.REDUCE + STOP


def _reconstructor_with_computed_class() -> bytes:
    # copyreg._reconstructor(cls, base, state) calls base.__new__(cls): here base is whatever the loader's
    # persistent_load returns for an id (torch.load resolves ids to objects), which no scanner can know
    base = sbu("storage-0") + pickle.BINPERSID
    return (proto(4) + stack_global("copyreg", "_reconstructor") + stack_global("builtins", "object") + base
            + pickle.NONE + pickle.TUPLE3 + pickle.REDUCE + STOP)


def _bit_generator_with_a_name() -> bytes:
    return (proto(4) + stack_global("numpy.random._pickle", "__bit_generator_ctor") + sbu("Evil")
            + pickle.TUPLE1 + pickle.REDUCE + STOP)


def _codec() -> bytes:
    return (proto(2) + glob("_codecs", "encode") + sbu("payload") + sbu("zlib_codec") + pickle.TUPLE2
            + pickle.REDUCE + STOP)


@pytest.mark.parametrize("build,fires", [(_dill_namedtuple, True), (_partial, True),
                                         (_reconstructor_with_computed_class, False),
                                         (_bit_generator_with_a_name, False), (_codec, False)])
def test_argument_contracts_block_what_reconstructors_are_given(tmp_path: Path, build, fires: bool) -> None:  # noqa: ANN001
    path = _write(tmp_path, f"{build.__name__}.pkl", build())
    if fires:
        assert run_loader("pickle", path, preload=("numpy", "dill")).fired
    report = assay.scan(path)
    assert report.exit_code == 1, [(f.rule, f.severity.label, f.message) for f in report.findings]


def test_dill_namedtuple_import_is_judged_as_that_import(tmp_path: Path) -> None:
    report = assay.scan(_write(tmp_path, "nt.pkl", _dill_namedtuple()))
    assert any("subprocess.Popen" in message for _, message in _high(report))


def test_real_numpy_random_states_satisfy_their_contracts(tmp_path: Path) -> None:
    import numpy as np

    value = {"legacy": np.random.RandomState(3), "gen": np.random.default_rng(4),
             "pcg": np.random.Generator(np.random.PCG64DXSM(5)), "sfc": np.random.SFC64(6)}
    for protocol in (2, 4, 5):
        path = _write(tmp_path, f"rng{protocol}.pkl", pickle.dumps(value, protocol=protocol))
        assert run_loader("pickle", path).clean
        report = assay.scan(path)
        assert report.exit_code == 0 and report.findings == (), [(f.rule, f.message) for f in report.findings]


# ---- joblib's reading and pickle.load's reading ------------------------------------------------------------
def test_opcodes_hidden_in_joblib_array_data_are_read_as_pickle_load_reads_them(tmp_path: Path) -> None:
    payload = b"cposix\nsystem\n(S'" + PAYLOAD.encode() + b"'\ntR0"
    wrapper = (proto(2) + glob("joblib.numpy_pickle", "NumpyArrayWrapper") + pickle.EMPTY_TUPLE + pickle.NEWOBJ
               + pickle.EMPTY_DICT + pickle.MARK
               + sbu("subclass") + glob("numpy", "ndarray") + sbu("shape") + pickle.BININT1 + bytes([len(payload)])
               + pickle.TUPLE1 + sbu("order") + sbu("C") + sbu("dtype") + glob("numpy", "dtype") + sbu("u1")
               + pickle.NEWFALSE + pickle.NEWTRUE + pickle.TUPLE3 + pickle.REDUCE + sbu("allow_mmap") + pickle.NEWFALSE
               + pickle.SETITEMS + pickle.BUILD)
    path = _write(tmp_path, "arrays.pkl", wrapper + payload + STOP)
    assert run_loader("pickle", path).fired  # pickle.load runs the bytes joblib takes for array data
    assert not run_loader("joblib", path).fired
    report = assay.scan(path)
    assert report.exit_code == 1
    assert any("pickle.load reads" in message for _, message in _high(report))


def test_real_joblib_files_are_not_read_twice_into_findings(tmp_path: Path) -> None:
    import joblib
    import numpy as np

    joblib.dump({"w": np.arange(50000, dtype=np.float32), "b": np.ones((7, 3))}, tmp_path / "real.joblib")
    assert assay.scan(tmp_path / "real.joblib").findings == ()


# ---- CPython's reading of number arguments ------------------------------------------------------------------
@pytest.mark.parametrize("literal,value", [(b"010", 8), (b"0x1f", 31), (b"0o17", 15), (b"0b101", 5),
                                           (b"1_000", 1000), (b" 12", 12), (b"-010", -8), (b"7\x00junk", 7),
                                           (b"99999999999999999999", 99999999999999999999)])
def test_int_literals_read_as_the_c_unpickler_reads_them(literal: bytes, value: int) -> None:
    data = b"I" + literal + b"\n."
    assert pickle.loads(data) == value
    assert _machine_value(data) == value


def _machine_value(data: bytes) -> object:
    from assay.scan import ScanConfig
    from assay.scan._context import ScanContext
    from assay.scan._pickle.vm import Machine
    from assay.scan._source import BytesBlob, Cursor

    config = ScanConfig()
    ctx = ScanContext(config, "x", lambda *a: None)
    return Machine(Cursor(BytesBlob(data), 0), ctx, config.limits, config.allow, False).run()


_NUMBER_TEXT = st.text(alphabet="0123456789+-_ xXoObBabcdefL\x00\t", min_size=1, max_size=12)


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(_NUMBER_TEXT, st.sampled_from([b"I", b"L"]))
def test_number_opcodes_agree_with_cpython_wherever_cpython_accepts_them(text: str, opcode: bytes) -> None:
    data = opcode + text.encode("latin-1").replace(b"\n", b"") + b"\n."
    try:
        expected = pickle.loads(data)
    except Exception:
        return  # the loader stops here: whatever the scanner reads, nothing after runs
    assert _machine_value(data) == expected


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(_NUMBER_TEXT)
def test_memo_keys_agree_with_cpython(text: str) -> None:
    line = text.encode("latin-1")
    data = b"I5\np" + line + b"\n0g" + line + b"\n."
    try:
        expected = pickle.loads(data)
    except Exception:
        return
    assert _machine_value(data) == expected


# ---- found by red-teaming this scanner: each fired under the real loaders and scanned clean before ---------------
def _g(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _s(text: str) -> bytes:
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data


def _computed_tuple(*items: bytes) -> bytes:
    return _g("builtins", "tuple") + b"(](" + b"".join(items) + b"etR"


def _contract_args_computed() -> bytes:
    """The argument tuple of a contract callable built by builtins.tuple([...]): nothing to check positions on."""
    fn = _g("numpy.core", "_ufunc_reconstruct") + _computed_tuple(_s("os"), _s("system")) + b"R"
    part = _g("functools", "partial") + _computed_tuple(fn, _s(PAYLOAD)) + b"R"
    factory = _g("collections", "defaultdict") + b"(" + part + b"tR"
    return (b"\x80\x02" + _g("builtins", "getattr") + b"(" + _g("builtins", "str") + _s("format") + b"tR(" + _s("{0[x]}")
            + factory + b"tR.")


def _partial_of_an_importer() -> bytes:
    """partial(_ufunc_reconstruct, 'os', 'system') as a defaultdict factory, fired by str.format's item lookup, then
    reached through getattr on an OrderedDict instance whose BUILD state shadows the class attribute."""
    part = _g("functools", "partial") + b"(" + _g("numpy.core", "_ufunc_reconstruct") + _s("os") + _s("system") + b"tR"
    factory = _g("collections", "defaultdict") + b"(" + part + b"tRq\x01"
    trigger = _g("builtins", "getattr") + b"(" + _g("builtins", "str") + _s("format") + b"tR(" + _s("{0[fromkeys]}") \
        + b"h\x01tR0"
    inst = _g("collections", "OrderedDict") + b")\x81h\x01bq\x02"
    call = _g("builtins", "getattr") + b"(h\x02" + _s("fromkeys") + b"tR(" + _s(PAYLOAD) + b"tR"
    return b"\x80\x02" + factory + b"0" + trigger + inst + b"0" + call + b"."


def _float_with_a_nul() -> bytes:
    """FLOAT '1.0\\0': the C unpickler stops the number at the NUL and reads on into the payload."""
    return b"\x80\x02F1.0\x00\n0cos\nsystem\n(S'" + PAYLOAD.encode() + b"'\ntR."


def _break_then_stack_global() -> bytes:
    """A FLOAT the scanner cannot read, then a protocol 4 payload: the rest is searched for the names it imports."""
    body = b"\x8c\x02os\x94\x8c\x06system\x94\x93" + b"\x8c" + bytes([len(PAYLOAD)]) + PAYLOAD.encode() + b"\x85R."
    return b"\x80\x04F1e5x\n0" + body


@pytest.mark.parametrize("build", [_contract_args_computed, _partial_of_an_importer, _float_with_a_nul])
def test_red_team_pickles_fire_and_block(tmp_path: Path, build) -> None:  # noqa: ANN001
    path = _write(tmp_path, f"{build.__name__}.pkl", build())
    assert run_loader("pickle", path).fired
    report = assay.scan(path)
    assert report.exit_code == 1, [(f.rule, f.severity.label, f.message) for f in report.findings]


def test_names_after_a_break_block(tmp_path: Path) -> None:
    report = assay.scan(_write(tmp_path, "after.pkl", _break_then_stack_global()))
    assert report.exit_code == 1
    assert any(f.rule == "AS112" and "os.system" in f.message for f in report.findings)


def test_str_format_is_not_allowed_it_reads_attributes_and_items_by_name() -> None:
    assert classify("builtins", "str.format").kind != "safe"


def test_a_getattr_on_an_instance_whose_state_sets_that_name_is_not_the_class_attribute(tmp_path: Path) -> None:
    state = b"}(" + _s("fromkeys") + _g("posix", "system") + b"u"
    data = (b"\x80\x02" + _g("builtins", "getattr") + b"(" + _g("collections", "OrderedDict") + b")\x81" + state
            + b"b" + _s("fromkeys") + b"tR.")
    report = assay.scan(_write(tmp_path, "shadow.pkl", data))
    assert any(f.rule == "AS101" and "getattr" in f.message for f in report.findings)


def _instance_method_gadget(key: str, trigger: bytes) -> bytes:
    """BUILD puts partial(dill's by-string importer, 'N', []) in an instance dict under a name the unpickler looks
    up and calls next (``append`` for APPEND, ``__setstate__`` for BUILD): the missing module name arrives then."""
    part = _g("functools", "partial") + b"(" + _g("dill._dill", "_create_namedtuple") + _s("N") + b"]tR"
    return (b"\x80\x02" + _g("types", "SimpleNamespace") + b")\x81}" + _s(key) + part + b"sb"
            + _s("assay_payload_module") + trigger + b".")


@pytest.mark.parametrize("key,trigger", [("append", b"a"), ("__setstate__", b"b")])
def test_methods_the_loader_looks_up_on_an_instance_block(tmp_path: Path, key: str, trigger: bytes) -> None:
    (tmp_path / "assay_payload_module.py").write_text(f"import os\nos.system({PAYLOAD!r})\n")
    path = _write(tmp_path, f"{key}.pkl", _instance_method_gadget(key, trigger))
    assert run_loader("pickle", path, preload=("numpy", "dill")).fired
    report = assay.scan(path)
    assert report.exit_code == 1, [(f.rule, f.severity.label, f.message) for f in report.findings]


def test_partial_of_an_importer_without_its_module_argument_blocks(tmp_path: Path) -> None:
    part = _g("functools", "partial") + b"(" + _g("numpy.core", "_ufunc_reconstruct") + _s("os") + b"tR"
    report = assay.scan(_write(tmp_path, "prefix.pkl", b"\x80\x02" + part + b"."))
    assert report.exit_code == 1


def test_library_classes_whose_unpickling_runs_their_own_code_are_not_enumerated(tmp_path: Path) -> None:
    """scikit-learn's ScoringMonitor reconnects to the address its state names in __setstate__: a class defined by
    an allowed library is not allowed for that alone."""
    callback = pytest.importorskip("sklearn.callback._scoring_monitor")
    transport = pytest.importorskip("sklearn.callback._transport")
    monitor = object.__new__(callback.ScoringMonitor)
    monitor.__dict__.update(_scoring=["accuracy"], _log=[], _estimator_scorers={},
                            _listener_handle=transport.ListenerHandle(("127.0.0.1", 9), b"x"))
    path = _write(tmp_path, "monitor.pkl", pickle.dumps(monitor, protocol=2))
    assert run_loader("pickle", path).fired
    assert assay.scan(path).exit_code == 1


def test_whole_schedulers_and_protocol_2_tensors_are_clean(tmp_path: Path) -> None:
    """Found by the recall benchmark: schedulers pickle their scaling functions as getattr(CyclicLR, name), and
    protocol 2 writes a tensor's bytes as codecs.encode(text, 'latin1') for torch.storage._load_from_bytes."""
    import torch

    net = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    cyclic = torch.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="exp_range")
    swa = torch.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_strategy="cos")
    torch.save({"cyclic": cyclic, "swa": swa}, tmp_path / "schedulers.pt", pickle_protocol=2)
    (tmp_path / "tensor.pkl").write_bytes(pickle.dumps({"w": torch.ones(3)}, protocol=2))
    for name in ("schedulers.pt", "tensor.pkl"):
        loader = "torch" if name.endswith(".pt") else "pickle"
        assert run_loader(loader, tmp_path / name, preload=("numpy", "torch")).clean
        report = assay.scan(tmp_path / name)
        assert report.exit_code == 0 and _high(report) == [], [(f.rule, f.message) for f in report.findings]
