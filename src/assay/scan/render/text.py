"""Human-readable output: one table per file with findings, then a summary."""

from __future__ import annotations

import io

from assay.scan.findings import ScanReport, Severity
from assay.scan.render.interface import Renderer

_STYLE = {Severity.CRITICAL: "bold red", Severity.HIGH: "red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan",
          Severity.INFO: "dim"}
_LIST_CLEAN_UP_TO = 25


class TextRenderer(Renderer):
    """Tables (rich) per file; plain characters when not on a terminal."""

    def render(self, report: ScanReport, *, color: bool = False) -> str:
        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=color, no_color=not color, width=140 if not color else None,
                          highlight=False, soft_wrap=False)
        clean = [f for f in report.files if not f.findings and not f.errors]
        for file in report.files:
            if not file.findings and not file.errors:
                continue
            formats = ", ".join(file.formats) or "data"
            console.print(Text.assemble((file.path, "bold"), f"  [{formats}]"))
            table = Table(box=box.SIMPLE, show_header=True, header_style="bold", pad_edge=False)
            table.add_column("severity", no_wrap=True)
            table.add_column("rule", no_wrap=True)
            table.add_column("where", overflow="fold", max_width=48)
            table.add_column("finding", overflow="fold")
            for f in sorted(file.findings, key=lambda f: -f.severity):
                where = f.location.member or ""
                if f.location.offset is not None:
                    where = f"{where}@{f.location.offset}" if where else f"byte {f.location.offset}"
                message = f.message if not f.detail else f"{f.message}\n  {f.detail}"
                table.add_row(Text(f.severity.label, _STYLE[f.severity]), f.rule, where, message)
            for e in file.errors:
                table.add_row(Text("error", "bold magenta"), "-", e.location.member or "", f"not scanned: {e.message}")
            console.print(table)
        if clean and len(report.files) <= _LIST_CLEAN_UP_TO:
            for file in clean:
                formats = ", ".join(file.formats) or "data"
                console.print(Text.assemble(("clean  ", "green"), file.path, f"  [{formats}]"))
        for e in report.errors:
            console.print(Text.assemble(("error  ", "bold magenta"), f"{e.location.path}: {e.message}"))
        counts = {s: 0 for s in Severity}
        for f in report.findings:
            counts[f.severity] += 1
        parts = [f"{counts[s]} {s.label}" for s in reversed(Severity) if counts[s]]
        verdict = {0: ("PASS", "bold green"), 1: ("FAIL", "bold red"), 2: ("INCOMPLETE", "bold magenta")}[report.exit_code]
        summary = (f"{len(report.files)} file(s), {len(clean)} clean; findings: {', '.join(parts) or 'none'}; "
                   f"errors: {len(report.all_errors)}; fail-on {report.fail_on.label}")
        console.print(Text.assemble((verdict[0], verdict[1]), "  ", summary))
        return buffer.getvalue()
