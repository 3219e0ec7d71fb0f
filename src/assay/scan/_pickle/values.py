"""Symbolic values of the pickle machine. Plain str/int/float/bool/None stand for themselves."""

from __future__ import annotations

from assay.scan._pickle.verdict import Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.scan._pickle.contracts import Contract

CONTAINER_KEEP = 256  # items kept per container; the rest are counted, never needed for analysis


class Mark:
    """The MARK sentinel (only ever lives on the metastack boundary)."""


class Bytes:
    """A bytes/bytearray argument: kept when small enough to analyse as a nested payload."""

    __slots__ = ("data", "length", "offset")

    def __init__(self, data: bytes | None, length: int, offset: int):
        self.data = data
        self.length = length
        self.offset = offset


class Ref:
    """What GLOBAL/STACK_GLOBAL/INST/EXT resolved to."""

    __slots__ = ("module", "name", "verdict", "offset", "contract")

    def __init__(self, module: str, name: str, verdict: Verdict, offset: int, contract: Contract | None = None):
        self.module = module
        self.name = name
        self.verdict = verdict
        self.offset = offset
        self.contract = contract
        """What the callable does with its arguments, when it calls, imports or resolves them (contracts.py)."""

    @property
    def canonical(self) -> str:
        """``module.name`` as written in the file."""
        return f"{self.module}.{self.name}"


class Obj:
    """The result of a call (REDUCE, NEWOBJ, OBJ, INST) or of a persistent_load."""

    __slots__ = ("callee", "args", "state", "offset", "how")

    def __init__(self, callee: object, args: object, offset: int, how: str = ""):
        self.callee = callee
        self.args = args
        self.state: object = None
        self.offset = offset
        self.how = how
        """The opcode that made it (REDUCE, NEWOBJ ...): NEWOBJ builds an instance of exactly its callee."""


class Opaque:
    """A value the machine cannot know (persistent id result, out-of-band buffer, huge string)."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what


class Seq:
    """A list or set built by the pickle; only the first CONTAINER_KEEP items are kept."""

    __slots__ = ("items", "count", "kind")

    def __init__(self, kind: str, items: list[object] | None = None):
        self.kind = kind
        self.items: list[object] = []
        self.count = 0
        for item in items or ():
            self.add(item)

    def add(self, item: object) -> None:
        """Append one item."""
        self.count += 1
        if len(self.items) < CONTAINER_KEEP:
            self.items.append(item)


class Map:
    """A dict built by the pickle; only the first CONTAINER_KEEP pairs are kept."""

    __slots__ = ("pairs", "count")

    def __init__(self) -> None:
        self.pairs: list[tuple[object, object]] = []
        self.count = 0

    def set(self, key: object, value: object) -> None:
        """Store one pair."""
        self.count += 1
        if len(self.pairs) < CONTAINER_KEEP:
            self.pairs.append((key, value))

    def get(self, key: str, default: object = None) -> object:
        """The last value stored under a constant key."""
        for k, v in reversed(self.pairs):
            if k == key:
                return v
        return default


def render(value: object, budget: int = 120) -> str:
    """A short, safe, one-line description of a symbolic value (for finding messages)."""
    text = _render(value, 3)
    return text if len(text) <= budget else text[: budget - 1] + "…"


def _render(value: object, depth: int) -> str:
    if depth < 0:
        return "…"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 200 else value[:200] + "…")
    if isinstance(value, Bytes):
        if value.data is not None and value.length <= 48:
            return repr(value.data)
        return f"<{value.length} bytes>"
    if isinstance(value, Ref):
        return value.canonical
    if isinstance(value, Obj):
        callee = value.callee.canonical if isinstance(value.callee, Ref) else _render(value.callee, depth - 1)
        args = value.args
        inner = ", ".join(_render(a, depth - 1) for a in args) if isinstance(args, tuple) else _render(args, depth - 1)
        return f"{callee}({inner})"
    if isinstance(value, tuple):
        return "(" + ", ".join(_render(v, depth - 1) for v in value[:8]) + (", …" if len(value) > 8 else "") + ")"
    if isinstance(value, Seq):
        body = ", ".join(_render(v, depth - 1) for v in value.items[:8])
        return f"[{body}{', …' if value.count > 8 else ''}]"
    if isinstance(value, Map):
        body = ", ".join(f"{_render(k, depth - 1)}: {_render(v, depth - 1)}" for k, v in value.pairs[:6])
        return "{" + body + (", …" if value.count > 6 else "") + "}"
    if isinstance(value, Opaque):
        return f"<{value.what}>"
    return "<?>"
