"""Analyse a byte stream holding one or more pickles and report what loading it would do."""

from __future__ import annotations

from assay.scan.findings import Severity
from assay.scan.limits import LimitExceeded
from assay.scan.pickle.joblib import skip_array_data
from assay.scan.pickle.values import Obj, render
from assay.scan.pickle.opcodes import looks_like_pickle
from assay.scan.pickle.vm import Machine, PickleBreak, StreamState
from assay.scan.source import Blob, Cursor

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
