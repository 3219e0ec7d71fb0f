"""Human-readable output: one table per file with findings, then a summary."""

from __future__ import annotations

import io

from assay.scan.findings import FileReport, ScanReport, Severity
from assay.scan.render.interface import Renderer

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
        failures = [f"{e.location.path}: {e.message}" for e in report.errors]
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


def _heading(file: FileReport) -> str:
    return f"{file.path}  [{', '.join(file.formats) or 'data'}]"


def _rows(file: FileReport) -> list[tuple[str, str, str, str]]:
    """(severity, rule, where, finding) per finding (worst first) and per error; a detail follows on a second line."""
    rows = []
    for f in sorted(file.findings, key=lambda f: -f.severity):
        where = f.location.member or ""
        if f.location.offset is not None:
            where = f"{where}@{f.location.offset}" if where else f"byte {f.location.offset}"
        rows.append((f.severity.label, f.rule, where, f.message if not f.detail else f"{f.message}\n  {f.detail}"))
    for e in file.errors:
        rows.append(("error", "-", e.location.member or "", f"not scanned: {e.message}"))
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
            table.add_row(Text(severity, _STYLE.get(severity, "bold magenta")), rule, where, finding)
        console.print(table)
    for line in listed:
        console.print(Text.assemble(("clean  ", "green"), line))
    for line in failures:
        console.print(Text.assemble(("error  ", "bold magenta"), line))
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(verdict, "bold magenta")
    console.print(Text.assemble((verdict, style), "  ", summary))
    return buffer.getvalue()
