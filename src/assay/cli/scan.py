"""``assay scan PATH...``: inspect model files, folders and archives without loading them."""

from __future__ import annotations

import enum
import sys
from pathlib import Path

import typer

from assay.errors import AssayError, UsageError


class OutputFormat(enum.StrEnum):
    """Report formats."""

    text = "text"
    json = "json"
    sarif = "sarif"


class FailOn(enum.StrEnum):
    """Severities that can fail a scan."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


def register(app: typer.Typer) -> None:
    """Add the ``scan`` command to ``app``."""
    app.command("scan", help=(
        "Scan model files, folders (recursively) and archives for anything that runs code when loaded. "
        "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 something could not be scanned."))(scan_command)


def scan_command(
    paths: list[Path] = typer.Argument(..., help="Files, folders or archives to scan.", show_default=False),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to FILE instead of stdout."),
    strict: bool = typer.Option(False, "--strict", help="Report callables on no list as high instead of medium."),
    fail_on: FailOn | None = typer.Option(None, "--fail-on", help="Lowest severity that fails the scan [default: high]."),
    allow: list[str] = typer.Option([], "--allow", help="Allow MODULE.NAME (or MODULE.*); repeatable. "
                                    "Cannot silence a callable on the dangerous table."),
    config_file: Path | None = typer.Option(None, "--config", help="Config file (assay.toml or pyproject.toml); "
                                               "default: ./assay.toml, else ./pyproject.toml with [tool.assay]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Scan PATHS and print the report."""
    from assay.config import find_config_file, load_scan_config
    from assay.scan import scan
    from assay.scan.render import renderer_for

    if config_file is not None and not config_file.is_file():
        raise UsageError(f"config file {config_file} does not exist")
    config = load_scan_config(config_file or find_config_file())
    on_file, stop = _progress(quiet or output_format != OutputFormat.text and output is None)
    try:
        report = scan([str(p) for p in paths], fail_on=fail_on.value if fail_on else None, strict=strict,
                      allow=allow, config=config, on_file=on_file)
    finally:
        stop()
    color = output is None and output_format == OutputFormat.text and sys.stdout.isatty()
    text = renderer_for(output_format.value).render(report, color=color)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AssayError(f"cannot write {output}: {exc.strerror or exc}") from None
    raise typer.Exit(report.exit_code)


def _progress(quiet: bool):  # noqa: ANN202 - (callback, stop) pair
    """A spinner with the current file on a terminal; nothing otherwise."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.status import Status

    status = Status("scanning", console=Console(stderr=True))
    status.start()
    count = [0]

    def on_file(path: str) -> None:
        count[0] += 1
        status.update(f"scanning [{count[0]}] {path}")

    return on_file, status.stop
