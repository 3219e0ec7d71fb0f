"""A symbolic pickle machine: runs the opcodes over symbolic values, never calling anything.

Why not ``pickletools.genops``: it materialises every argument (a 1 GB in-band tensor becomes a
1 GB bytes object), it stops at the first malformed opcode without the state we need to report what
came before, and it knows nothing of frames as the unpickler enforces them or of joblib's arrays
written between opcodes. This machine mirrors CPython's ``Unpickler`` (stack, metastack for MARK,
memo, frames) but records every import and call instead of performing it.
"""

from __future__ import annotations

from collections.abc import Callable

from assay.scan._findings import Severity
from assay.scan._limits import LimitExceeded, ScanLimits
from assay.scan._pickle.arguments import apply_contract, call_resolver_object, computed_call
from assay.scan._pickle.contracts import contract_for
from assay.scan._pickle.handlers import HANDLERS, STOP_HANDLER
from assay.scan._pickle.values import Bytes, Obj, Opaque, Ref, render
from assay.scan._pickle.verdict import Verdict, classify, is_importable_name
from assay.scan._source import Cursor


class PickleBreak(Exception):
    """The stream cannot be unpickled past ``offset``: the real unpickler would raise here."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


TYPE_CHECKING = False  # importing typing costs milliseconds of start-up; Sink serves type checkers only
if TYPE_CHECKING:
    from typing import Protocol

    class Sink(Protocol):
        """Where the machine reports what it sees (a ScanContext)."""

        def add(self, rule: str, severity: Severity, message: str, offset: int | None = None,
                detail: str | None = None) -> None: ...

        def scan_nested_pickle(self, data: bytes, label: str) -> Severity | None: ...


class Use:
    """Every way one callable was reached in a stream (mutable state of the machine, not a value type)."""

    __slots__ = ("ref", "count", "calls", "via", "rule", "nested", "resolved", "unresolved")

    def __init__(self, ref: Ref, via: str = "import", rule: str = "AS101"):
        self.ref = ref
        self.count = 0
        self.calls: list[str] = []
        self.via = via
        self.rule = rule
        self.nested: Severity | None | bool = False  # False: no nested payload; None: scanned clean
        self.resolved = 0  # resolvers (getattr ...): calls that named a constant attribute of an imported name
        self.unresolved = 0  # ... and calls or uses that did not

    @property
    def fully_resolved(self) -> bool:
        """A resolver whose every use named an attribute that was judged on its own: nothing left to report."""
        return self.ref.contract is not None and self.ref.contract.resolver is not None and \
            self.resolved > 0 and self.unresolved == 0


class StreamState:
    """What one or more consecutive pickles of a stream have shown so far."""

    __slots__ = ("uses", "protocol", "opcodes", "imports", "arrays")

    def __init__(self) -> None:
        self.uses: dict[str, Use] = {}
        self.arrays = False  # joblib array data was stepped over: pickle.load would read those bytes as opcodes
        self.protocol = 0
        self.opcodes = 0
        self.imports = 0

    @property
    def reached_code(self) -> bool:
        """True when anything but allow-listed callables was imported or called."""
        return any(u.ref.verdict.kind != "safe" and not u.fully_resolved for u in self.uses.values())


class Machine:
    """Runs one pickle (up to STOP) from ``cursor``; see ``run``."""

    def __init__(self, cursor: Cursor, sink: Sink, limits: ScanLimits, allow: frozenset[str], strict: bool,
                 state: StreamState | None = None, on_build: Callable[[Machine, Obj], None] | None = None):
        self.cur = cursor
        self.sink = sink
        self.limits = limits
        self.allow = allow
        self.strict = strict
        self.state = state or StreamState()
        self.on_build = on_build
        self.stack: list[object] = []
        self.metastack: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.frame_end: int | None = None
        self.op_start = 0

    # ---- helpers -------------------------------------------------------------------------------
    def fail(self, message: str) -> PickleBreak:
        return PickleBreak(message, self.op_start)

    def read(self, n: int) -> bytes:
        data = self.cur.read(n)
        if len(data) < n:
            raise self.fail(f"pickle data was truncated (wanted {n} bytes, got {len(data)})")
        return data

    def u8(self) -> int:
        """One unsigned byte argument (inlined buffer access: the most frequent argument read)."""
        cur = self.cur
        rel = cur.pos - cur._buf_start  # noqa: SLF001
        buf = cur._buf  # noqa: SLF001
        if 0 <= rel < len(buf):
            cur.pos += 1
            return buf[rel]
        return self.read(1)[0]

    def uint(self, n: int) -> int:
        """An unsigned little-endian argument of ``n`` bytes."""
        cur = self.cur
        rel = cur.pos - cur._buf_start  # noqa: SLF001
        buf = cur._buf  # noqa: SLF001
        if 0 <= rel and rel + n <= len(buf):
            cur.pos += n
            return int.from_bytes(buf[rel:rel + n], "little")
        return int.from_bytes(self.read(n), "little")

    def line(self, kind: str = "text") -> bytes:
        """A newline-terminated argument. ``kind``: "text" (names, unicode), "quoted" (STRING: starts with a
        quote) or "number" (INT, LONG, FLOAT, GET, PUT)."""
        start, limit = self.cur.pos, self.limits.max_line_bytes
        line = self.cur.readline(limit)
        if line is None:
            if self.cur.pos - start <= limit:
                raise self.fail("newline-terminated argument is missing (the data ends first)")
            # Too long to look at. A number that long, or a STRING not opening with a quote, makes the loader
            # fail right here; anything else could be a valid argument with code after it: a limit, not a verdict.
            if kind == "number" or (kind == "quoted" and self.cur.byte_at(start) not in b"\"'"):
                raise self.fail(f"{kind} argument longer than max_line_bytes={limit} cannot be valid")
            raise LimitExceeded("max_line_bytes", f"a newline-terminated argument at byte {self.op_start} is "
                                f"longer than max_line_bytes={limit}")
        return line[:-1]

    def pop(self) -> object:
        if not self.stack:
            raise self.fail("unpickling stack underflow")
        return self.stack.pop()

    def pop_mark(self) -> list[object]:
        if not self.metastack:
            raise self.fail("could not find MARK")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def top(self) -> object:
        if not self.stack:
            raise self.fail("unpickling stack underflow")
        return self.stack[-1]

    def bytes_arg(self, n: int) -> Bytes:
        if n < 0:
            raise self.fail("negative byte count")
        offset = self.cur.pos
        if n <= self.limits.max_inline_bytes:
            return Bytes(self.read(n), n, offset)
        self.cur.skip(n)  # a tensor payload: never read
        return Bytes(None, n, offset)

    def text_arg(self, n: int, encoding: str = "utf-8") -> object:
        if n < 0:
            raise self.fail("negative string length")
        if n > self.limits.max_inline_bytes:
            self.cur.skip(n)
            return Opaque(f"{n}-byte string")
        try:
            return self.read(n).decode(encoding, "surrogatepass")
        except UnicodeDecodeError as exc:
            raise self.fail(f"string is not valid {encoding}: {exc.reason}") from None

    # ---- imports and calls ---------------------------------------------------------------------
    def resolve(self, module: object, name: object, via: str) -> Ref:
        if not isinstance(module, str) or not isinstance(name, str):
            if isinstance(module, (Obj, Ref)) or isinstance(name, (Obj, Ref)):
                verdict = Verdict("dangerous", f"{render(module)}.{render(name)}", Severity.CRITICAL,
                                  "import-machinery", "the module or name is computed while loading, so any "
                                  "callable can be imported")
                return self.record(Ref(render(module), render(name), verdict, self.op_start), via, "AS107")
            raise self.fail(f"{via} requires str operands")
        if not is_importable_name(module, name):
            raise self.fail(f"{via} names {module!r} {name!r}, which cannot be imported")
        ref = Ref(module, name, classify(module, name, self.allow, self.strict), self.op_start, contract_for(module, name))
        return self.record(ref, via)

    def record(self, ref: Ref, via: str, rule: str = "") -> Ref:
        self.state.imports += 1
        use = self.state.uses.get(ref.verdict.canonical)
        if use is None:
            if not rule:
                rule = "AS101" if ref.verdict.kind == "dangerous" else "AS102"
            use = self.state.uses[ref.verdict.canonical] = Use(ref, via=via, rule=rule)
        use.count += 1
        return ref

    def call(self, callee: object, args: object, how: str) -> object:
        """What calling ``callee`` with ``args`` pushes: an Obj, or the Ref a resolver names."""
        obj = Obj(callee, args, self.op_start, how)
        if isinstance(callee, Ref):
            use = self.state.uses[callee.verdict.canonical]
            if len(use.calls) < 3:
                use.calls.append(render(obj, 160))
            contract = callee.contract
            if contract is not None:
                resolved = apply_contract(self, contract, use, args, how)
                if resolved is not None:
                    return resolved
            if callee.verdict.category == "pickle-in-pickle" and use.nested is False:
                payload = args[0] if isinstance(args, tuple) and args else None
                if isinstance(payload, Bytes) and payload.data is not None:
                    label = f"{callee.verdict.canonical} payload@{payload.offset}"
                    use.nested = self.sink.scan_nested_pickle(payload.data, label)
        elif isinstance(callee, Obj) and isinstance(callee.callee, Ref) and callee.callee.contract is not None and \
                callee.callee.contract.resolver in ("attrgetter", "methodcaller"):
            attribute = call_resolver_object(self, callee, args, obj)
            if attribute is not None:
                return attribute
        elif isinstance(callee, (Obj, Opaque)):
            computed_call(self, f"{how} calls a value computed while loading: {render(obj)}")
        else:
            raise self.fail(f"{how} on a value that is not callable ({render(callee)})")
        return obj

    def mutates_import(self, target: object, how: str) -> None:
        if isinstance(target, Ref):
            self.sink.add("AS106", Severity.HIGH, f"{how} changes the imported object {target.canonical}",
                          self.op_start, "setting attributes or items of a module, class or function rewrites "
                          "code for everything loaded after this file")

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> object:
        """Execute opcodes until STOP; return the symbolic result. Raise PickleBreak or LimitExceeded."""
        cur = self.cur
        st = self.state
        handlers = HANDLERS
        check_every = 256  # limits are checked in batches: at most this many opcodes past a limit
        countdown = check_every
        try:
            while True:
                self.op_start = start = cur.pos
                buf = cur._buf  # noqa: SLF001 - the opcode fetch is the hot path; inlined on purpose
                rel = start - cur._buf_start  # noqa: SLF001
                if 0 <= rel < len(buf):
                    op = buf[rel]
                    cur.pos = start + 1
                else:
                    op = cur.read_byte()
                    if op < 0:
                        raise self.fail("pickle ended without STOP")
                handler = handlers[op]
                if handler is None:
                    raise self.fail(f"invalid opcode 0x{op:02x}")
                if handler is STOP_HANDLER:
                    self.check_frame(start)
                    return self.pop()
                handler(self)
                frame_end = self.frame_end
                if frame_end is not None and cur.pos >= frame_end:  # inside a frame nothing is due: skip the call
                    self.check_frame(start)
                countdown -= 1
                if not countdown:
                    st.opcodes += check_every
                    countdown = check_every
                    self._check_limits()
        finally:
            st.opcodes += check_every - countdown

    def _check_limits(self) -> None:
        limits = self.limits
        if self.state.opcodes > limits.max_pickle_opcodes:
            raise LimitExceeded("max_pickle_opcodes", f"more than max_pickle_opcodes={limits.max_pickle_opcodes} opcodes")
        if len(self.stack) + len(self.memo) + len(self.metastack) > limits.max_pickle_items:
            raise LimitExceeded("max_pickle_items", f"more than max_pickle_items={limits.max_pickle_items} live values")

    def check_frame(self, start: int) -> None:
        end = self.frame_end
        if end is None:
            return
        pos = self.cur.pos
        if start < end < pos:
            self.sink.add("AS105", Severity.MEDIUM, f"opcode at byte {start} runs past the end of its frame "
                          f"(frame ends at byte {end})", start, "loaders disagree on such streams; pickles "
                          "written by Python never split an opcode across frames")
            self.frame_end = None
        elif pos >= end:
            self.frame_end = None
