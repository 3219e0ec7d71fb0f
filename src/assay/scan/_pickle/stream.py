"""Analyse a byte stream holding one or more pickles and report what loading it would do."""

from __future__ import annotations

import re

from assay.scan._findings import Severity
from assay.scan._limits import LimitExceeded
from assay.scan._pickle.joblib import skip_array_data
from assay.scan._pickle.opcodes import looks_like_pickle
from assay.scan._pickle.values import Obj, render
from assay.scan._pickle.verdict import classify, is_importable_name
from assay.scan._pickle.vm import Machine, PickleBreak, StreamState
from assay.scan._source import Blob, Cursor

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_LEGACY_PICKLES = 5  # magic, protocol version, sys info, the object, storage keys; then raw storages


class StreamResult:
    """What the stream turned out to be (a plain class: typing.NamedTuple costs start-up time)."""

    __slots__ = ("is_pickle", "torch_legacy")

    def __init__(self, is_pickle: bool, torch_legacy: bool) -> None:
        self.is_pickle = is_pickle
        self.torch_legacy = torch_legacy


class _Buffer:
    """Holds findings while we do not yet know whether unknown content is a pickle at all."""

    def __init__(self, ctx):  # noqa: ANN001 - ScanContext
        self.ctx = ctx
        self.held: list[tuple] = []

    def add(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        self.held.append((args, kwargs))

    def scan_nested_pickle(self, data: bytes, label: str) -> Severity | None:
        return self.ctx.scan_nested_pickle(data, label)

    def flush(self) -> None:
        for args, kwargs in self.held:
            self.ctx.add(*args, **kwargs)


def analyze_stream(blob: Blob, ctx, start: int = 0, *, definite: bool, max_pickles: int | None = None,  # noqa: ANN001
                   joblib: bool = False) -> StreamResult:
    """Run every pickle in ``blob`` from ``start`` and report through ``ctx``.

    ``definite``: the caller knows this is a pickle (by structure or by the container), so a
    malformed stream is a finding. Otherwise a stream that breaks before importing anything is
    taken for "not a pickle" and nothing is reported.

    ``joblib``: the stream may be opened by ``joblib.load`` as well as by ``pickle.load`` (a standalone
    file). joblib reads array data right after each array wrapper's BUILD, where ``pickle.load`` reads
    opcodes: when the joblib reading stepped over array data, the same bytes are read again the way
    ``pickle.load`` reads them, and what that reading imports is reported too. Everything else
    (``data.pkl`` in a torch archive, ``.npy`` object data, nested payloads) is read as ``pickle.load`` reads it.
    """
    cfg = ctx.config
    cursor = Cursor(blob, start)
    sink = ctx if definite else _Buffer(ctx)
    state = StreamState()
    on_build = _joblib_arrays if joblib else None
    limit = min(max_pickles or cfg.limits.max_pickles_per_stream, cfg.limits.max_pickles_per_stream)
    pickles, torch_legacy, broke = 0, False, None
    try:
        while True:
            machine = Machine(cursor, sink, cfg.limits, cfg.allow, cfg.strict, state, on_build)
            value = machine.run()
            pickles += 1
            if pickles == 1 and value == TORCH_LEGACY_MAGIC:
                torch_legacy = True
                limit = _TORCH_LEGACY_PICKLES
            if pickles >= limit:
                if pickles == cfg.limits.max_pickles_per_stream and not torch_legacy and not cursor.at_end():
                    ctx.error(f"more than max_pickles_per_stream={limit} pickles", "max_pickles_per_stream", cursor.pos)
                break
            if cursor.at_end():
                break
            if not looks_like_pickle(cursor.read(2)):
                cursor.pos -= 2
                break
            cursor.pos -= 2
    except PickleBreak as exc:
        broke = exc
    except LimitExceeded as exc:
        ctx.error(str(exc), exc.limit, cursor.pos)
    if not definite and not _plausible(pickles, state, broke, cursor):
        return StreamResult(False, False)
    if isinstance(sink, _Buffer):
        sink.flush()
    _report_uses(ctx, state)
    if state.arrays:
        _report_plain_reading(blob, ctx, start, state, limit)
    if broke is not None:
        severity = Severity.MEDIUM if state.reached_code or pickles else Severity.LOW
        what = "after imports and calls that a loader has already executed" if state.reached_code else ""
        ctx.add("AS108", severity, f"pickle stream is malformed at byte {broke.offset}: {broke} {what}".strip(),
                broke.offset)
        _report_names_after_break(blob, ctx, broke.offset)
    elif not torch_legacy and pickles and not cursor.at_end() and pickles < limit:
        trailing = blob.size - cursor.pos
        ctx.add("AS109", Severity.LOW, f"{trailing} bytes follow the last pickle", cursor.pos)
    return StreamResult(True, torch_legacy)


def _joblib_arrays(m: Machine, inst: Obj) -> None:
    """``Machine.on_build`` under joblib: step over array data, and remember that the readings now differ."""
    before = m.cur.pos
    skip_array_data(m, inst)
    if m.cur.pos != before:
        m.state.arrays = True


def _report_plain_reading(blob: Blob, ctx, start: int, joblib_state: StreamState, limit: int) -> None:  # noqa: ANN001
    """Read the stream again as ``pickle.load`` would (array data as opcodes) and report the imports and calls
    that only this reading reaches. Its malformations are not reported: benign joblib files always break here."""
    cfg = ctx.config
    cursor = Cursor(blob, start)
    state = StreamState()
    quiet = _Buffer(ctx)
    try:
        for _ in range(limit):
            Machine(cursor, quiet, cfg.limits, cfg.allow, cfg.strict, state, None).run()
            if cursor.at_end():
                break
    except (PickleBreak, LimitExceeded):
        pass
    extra = StreamState()
    extra.uses = {k: u for k, u in state.uses.items() if k not in joblib_state.uses}
    if extra.reached_code:
        held = [h for h in quiet.held if h[0][0] in ("AS103", "AS106", "AS107")]
        quiet.held = held
        quiet.flush()
        _report_uses(ctx, extra, " (as pickle.load reads this file: it takes joblib's array data for opcodes)")


_TAIL_BYTES = 1 << 20  # how far past a break the bytes are searched for import opcodes
_GLOBAL_LINE = re.compile(rb"[ci]([A-Za-z_][A-Za-z0-9_.]{0,255})\n([A-Za-z_][A-Za-z0-9_.]{0,255})\n")


def _short_string_before(data: bytes, end: int) -> tuple[int, str] | None:
    """A SHORT_BINUNICODE / BINUNICODE / SHORT_BINSTRING operand ending at ``end``: (its start, its text)."""
    for length in range(1, min(end, 256)):
        start = end - length
        text = data[start:end]
        if start >= 2 and data[start - 1] == length and data[start - 2] in (0x8C, 0x55):
            return start - 2, text.decode("latin-1")
        if start >= 5 and data[start - 5] == 0x58 and int.from_bytes(data[start - 4:start], "little") == length:
            return start - 5, text.decode("latin-1")
    return None


def names_in(data: bytes) -> list[tuple[int, str, str]]:
    """(offset, module, name) of every GLOBAL/INST line and STACK_GLOBAL operand pair in raw bytes: what a loader
    that read these bytes as opcodes would import. A search, not a parse: used where the machine cannot go on."""
    found = [(m.start(), m.group(1).decode(), m.group(2).decode()) for m in _GLOBAL_LINE.finditer(data)]
    at = data.find(b"\x93")
    while at >= 0:
        end = at - 1 if at and data[at - 1] == 0x94 else at
        name = _short_string_before(data, end)
        if name is not None:
            before = name[0] - 1 if name[0] and data[name[0] - 1] == 0x94 else name[0]
            module = _short_string_before(data, before)
            if module is not None:
                found.append((module[0], module[1], name[1]))
        at = data.find(b"\x93", at + 1)
    return found


def _report_names_after_break(blob: Blob, ctx, offset: int) -> None:  # noqa: ANN001
    """The machine stops where the stream stops making sense to it; a loader that reads the same bytes another
    way goes on. Names that the rest of the stream would import, if they are not on the allow-list, block."""
    cfg = ctx.config
    data = blob.read_at(offset, min(blob.size - offset, _TAIL_BYTES))
    reported: set[str] = set()
    for at, module, name in names_in(data):
        if not is_importable_name(module, name):
            continue
        verdict = classify(module, name, cfg.allow)
        if verdict.kind == "safe" or verdict.canonical in reported:
            continue
        reported.add(verdict.canonical)
        ctx.add("AS112", max(Severity.HIGH, verdict.severity or Severity.HIGH),
                f"after byte {offset}, where the scan could not read on, the bytes name {verdict.canonical}: a loader "
                f"that reads on imports it ({verdict.reason})", offset + at)


def _plausible(pickles: int, state: StreamState, broke: PickleBreak | None, cursor: Cursor) -> bool:
    """Whether headerless content is worth reporting as a pickle.

    About 1 in 40 files of raw tensor data (ONNX external data, raw ``.bin`` shards) starts with
    a byte that is a pickle opcode, often EXT1/2/4, and breaks a few bytes later. A loader given
    such bytes fails before doing anything: an EXT code resolves only to what the loading process
    registered itself, and nothing was called. So headerless content is a pickle only when it
    imports by name, calls something, or is one or more complete pickles that fill the file.
    """
    if any(use.calls or not use.via.startswith("EXT") for use in state.uses.values()):
        return True
    if broke is not None:  # whole pickles, then one that breaks: a loader calling load() again gets that far
        return pickles > 0
    return pickles > 0 and cursor.at_end()


def _report_uses(ctx, state: StreamState, note: str = "") -> None:  # noqa: ANN001
    for use in state.uses.values():
        verdict = use.ref.verdict
        if verdict.kind == "safe" or use.fully_resolved:
            continue  # a getattr that only named attributes: each attribute was judged as its own name
        severity = verdict.severity or Severity.MEDIUM
        verb = "calls" if use.calls else "imports"
        message = f"{verb} {verdict.canonical}: {verdict.reason}{note}"
        if use.nested is None:
            severity = Severity.LOW
            message += "; its embedded payload was scanned and is clean"
        elif isinstance(use.nested, Severity):
            severity = max(severity, use.nested)
            message += "; its embedded payload is reported below"
        detail = "; ".join(use.calls) if use.calls else f"{use.via} {render(use.ref.canonical)}"
        if use.count > 1:
            detail += f" (x{use.count})"
        ctx.add(use.rule, severity, message, use.ref.offset, detail)


def run_one_pickle(blob: Blob, ctx, start: int) -> tuple[object, int] | None:  # noqa: ANN001 - ScanContext
    """Run exactly one pickle of ``blob`` from ``start`` (as one ``pickle.load`` call on a file positioned
    there) and report what it imports and calls; return (symbolic value, offset after STOP), or None when the
    pickle breaks or a limit stops it (reported: a loader stops there too).

    For containers that interleave pickles with raw bytes (torch's legacy tar members), where the caller
    needs a pickle's value to know how many raw bytes the loader skips next.
    """
    cfg = ctx.config
    cursor = Cursor(blob, start)
    state = StreamState()
    result: tuple[object, int] | None = None
    try:
        value = Machine(cursor, ctx, cfg.limits, cfg.allow, cfg.strict, state, skip_array_data).run()
        result = (value, cursor.pos)
    except PickleBreak as exc:
        ctx.add("AS108", Severity.MEDIUM if state.reached_code else Severity.LOW,
                f"pickle is malformed at byte {exc.offset}: {exc}", exc.offset)
    except LimitExceeded as exc:
        ctx.error(str(exc), exc.limit, cursor.pos)
    _report_uses(ctx, state)
    return result
