"""Python files shipped with a model (custom modeling code run by trust_remote_code, handlers):
parsed with ``ast`` (never executed) and read symbolically (``python_symbols``) for process, code, native,
network, file-write and deserialising calls, however their names are spelled."""

from __future__ import annotations

import ast
import warnings

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._record import Record
from assay.scan._source import Blob

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.scan._formats.python_symbols import PyCall

_LINES_SHOWN = 6


class PythonAnalysis(Record):
    """What one Python file would do: its dangerous calls, grouped; the sibling modules it imports."""

    calls: tuple[CallGroup, ...]
    relative_imports: tuple[str, ...]
    error: str | None
    """Why the file could not be analysed (it does not parse), or None."""


class CallGroup(Record):
    """Every call to one target: the worst severity, what it does, the lines."""

    target: str
    shown: str
    severity: Severity
    what: str
    lines: tuple[int, ...]

    def message(self) -> str:
        """``line 3: os.system() starts a process (also lines 9, 12)``."""
        call = self.shown if self.shown.endswith(")") else f"{self.shown}()"
        text = f"line {self.lines[0]}: {call} {self.what}"
        rest = self.lines[1:]
        if rest:
            more = f", +{len(rest) - _LINES_SHOWN} more" if len(rest) > _LINES_SHOWN else ""
            text += f" (also line{'s' if len(rest) > 1 else ''} {', '.join(map(str, rest[:_LINES_SHOWN]))}{more})"
        return text


def analyse_python(data: bytes, name: str = "<model code>", max_nodes: int | None = None) -> PythonAnalysis:
    """Analyse Python source bytes (the coding declaration is honoured, as the interpreter does). Raise
    LimitExceeded past ``max_nodes`` syntax-tree nodes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the shipped code are not our warnings
            tree = ast.parse(data, filename=name)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return PythonAnalysis((), (), f"{type(exc).__name__}: {exc}"[:200])
    from assay.scan._formats.python_symbols import Analyser  # ast and the symbol tables: only for code to read

    analyser = Analyser(tree)
    try:
        calls = analyser.run(max_nodes)
    except RecursionError:
        return PythonAnalysis((), (), "nested too deeply to analyse")
    return PythonAnalysis(group_calls(calls), tuple(dict.fromkeys(analyser.relative_imports)), None)


def group_calls(calls: list[PyCall]) -> tuple[CallGroup, ...]:
    """One group per target, worst first, then by first line."""
    groups: dict[str, list[PyCall]] = {}
    for call in calls:
        groups.setdefault(call.target, []).append(call)
    out = []
    for target, items in groups.items():
        worst = max(items, key=lambda c: (c.severity, -c.line))
        lines = tuple(sorted({c.line for c in items}))
        out.append(CallGroup(target, worst.shown, worst.severity, worst.what, lines))
    return tuple(sorted(out, key=lambda g: (-g.severity, g.lines[0])))


def read_source(blob: Blob, ctx: ScanContext, what: str = "Python source") -> bytes | None:
    """The blob's bytes within max_source_bytes; None (and a scan error) when larger."""
    limit = ctx.limits.max_source_bytes
    if blob.size > limit:
        ctx.error(f"{what} of {blob.size} bytes is larger than max_source_bytes={limit}", "max_source_bytes")
        return None
    return blob.read_at(0, blob.size)


class PythonSourceScanner(FormatScanner):
    """``*.py`` files."""

    formats = ("python",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        data = read_source(blob, ctx)
        if data is None or not data.strip():
            return True  # nothing to run (an empty __init__.py): the analyser is not even imported
        analysis = analyse_python(data, name, ctx.limits.max_python_nodes)
        if analysis.error is not None:
            # Default deny: the loader's Python may be newer (new syntax) or allow deeper nesting than assay's.
            ctx.add("AS453", Severity.HIGH, f"assay cannot analyse this Python source ({analysis.error}); the "
                    "loader's Python may still run it")
            return True
        report_groups(analysis.calls, ctx)
        return True


def report_groups(groups: tuple[CallGroup, ...], ctx: ScanContext) -> None:
    """One AS452 finding per dangerous target."""
    for group in groups:
        ctx.add("AS452", group.severity, group.message())
