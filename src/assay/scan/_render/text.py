"""Human-readable output: one table per file with findings, then a summary."""

from __future__ import annotations

import io

from assay.scan._findings import FileReport, ScanReport, Severity
from assay.scan._render.interface import Renderer

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
_LIST_CLEAN_UP_TO = 25


class TextRenderer(Renderer):
    """A table per file with findings, then the clean files and a summary line.

    On a terminal (``color``) the tables are drawn with rich; otherwise (a pipe, a CI log, a file) they are
    plain aligned columns, written here because rich costs ~30 ms of start-up to import and its tables pad
    every line with spaces."""

    def render(self, report: ScanReport, *, color: bool = False) -> str:
        clean = [f for f in report.files if not f.findings and not f.errors]
        tables = [(_heading(file), _rows(file)) for file in report.files if file.findings or file.errors]
        listed = [_heading(file) for file in clean] if len(report.files) <= _LIST_CLEAN_UP_TO else []
        failures = [_safe(f"{e.location.path}: {e.message}") for e in report.errors]
        counts = {s: 0 for s in Severity}
        for f in report.findings:
            counts[f.severity] += 1
        parts = [f"{counts[s]} {s.label}" for s in reversed(Severity) if counts[s]]
        verdict = {0: "PASS", 1: "FAIL", 2: "INCOMPLETE"}[report.exit_code]
        summary = (f"{len(report.files)} file(s), {len(clean)} clean; findings: {', '.join(parts) or 'none'}; "
                   f"errors: {len(report.all_errors)}; fail-on {report.fail_on.label}")
        if color:
            return _rich(tables, listed, failures, verdict, summary)
        out: list[str] = []
        for heading, rows in tables:
            out += [heading, *_plain_table(rows), ""]
        out += [f"clean  {line}" for line in listed]
        out += [f"error  {line}" for line in failures]
        out.append(f"{verdict}  {summary}")
        return "\n".join(out) + "\n"


_HEADER = ("severity", "rule", "where", "finding")
_ESCAPES = {**{c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}, 0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r",
            **{c: f"\\u{c:04x}" for c in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
            **{0xDC00 + b: f"\\x{b:02x}" for b in range(0x80, 0x100)}}
"""Control, line-separator and bidirectional-override characters, written as escapes: member names and
messages come from the scanned files, and must not start a line of their own (a forged ``PASS``) or
reorder what a terminal shows. A file name that is not UTF-8 (its bytes arrive as lone surrogates) shows
its bytes as ``\\xNN``."""


def _safe(text: str) -> str:
    return text.translate(_ESCAPES)


def _heading(file: FileReport) -> str:
    return _safe(f"{file.path}  [{', '.join(file.formats) or 'data'}]")


def _rows(file: FileReport) -> list[tuple[str, str, str, str]]:
    """(severity, rule, where, finding) per finding (worst first) and per error; a detail follows on a second line."""
    rows = []
    for f in sorted(file.findings, key=lambda f: -f.severity):
        where = f.location.member or ""
        if f.location.offset is not None:
            where = f"{where}@{f.location.offset}" if where else f"byte {f.location.offset}"
        finding = _safe(f.message) if not f.detail else f"{_safe(f.message)}\n  {_safe(f.detail)}"
        rows.append((f.severity.label, _safe(f.rule), _safe(where), finding))
    for e in file.errors:
        rows.append(("error", "-", _safe(e.location.member or ""), f"not scanned: {_safe(e.message)}"))
    return rows


def _plain_table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (_HEADER, *rows)) for i in range(3)]
    lines = []
    for row in (_HEADER, *rows):
        first, *more = row[3].split("\n")
        lead = "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        lines.append(f"  {lead}  {first}")
        lines += [f"  {' ' * len(lead)}  {line}" for line in more]
    return lines


def _rich(tables: list[tuple[str, list[tuple[str, str, str, str]]]], listed: list[str], failures: list[str],
          verdict: str, summary: str) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, highlight=False, soft_wrap=False)
    for heading, rows in tables:
        console.print(Text(heading, "bold"))
        table = Table(box=box.SIMPLE, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("severity", no_wrap=True)
        table.add_column("rule", no_wrap=True)
        table.add_column("where", overflow="fold", max_width=48)
        table.add_column("finding", overflow="fold")
        for severity, rule, where, finding in rows:
            table.add_row(Text(severity, _STYLE.get(severity, "bold magenta")), Text(rule), Text(where), Text(finding))
        console.print(table)
    for line in listed:
        console.print(Text.assemble(("clean  ", "green"), line))
    for line in failures:
        console.print(Text.assemble(("error  ", "bold magenta"), line))
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(verdict, "bold magenta")
    console.print(Text.assemble((verdict, style), "  ", summary))
    return buffer.getvalue()
