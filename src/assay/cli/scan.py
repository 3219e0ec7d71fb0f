"""``assay scan PATH...``: inspect model files, folders and archives without loading them.

The command CI pipelines run on every file: the scanner and rich load only when it runs (see ``main.py``).
"""

from __future__ import annotations

import argparse
import os
import sys

from assay.cli._parsing import command
from assay.errors import AssayError, UsageError

TYPE_CHECKING = False  # pathlib and typing cost milliseconds of start-up: paths stay strings here
if TYPE_CHECKING:
    from typing import Any

FORMATS = ("text", "json", "sarif")
"""Report formats."""
FAIL_ON = ("critical", "high", "medium", "low")
"""Severities that can fail a scan."""
HELP = ("Scan model files, folders (recursively) and archives for anything that runs code when loaded. "
        "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 something could not be scanned.")


def register(subparsers: Any) -> None:
    """Add ``assay scan`` to the root parser's ``subparsers``."""
    parser = command(subparsers, "scan", HELP, _scan, intermixed=True)  # paths may follow flags
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Files, folders or archives to scan.")
    parser.add_argument("--format", "-f", dest="output_format", choices=FORMATS, default="text",
                        help="Report format [default: text].")
    parser.add_argument("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
    parser.add_argument("--strict", action="store_true", help="Also fail on medium findings (malformed data, remote-code declarations). Callables "
                             "not on the allow-list block with or without it.")
    parser.add_argument("--fail-on", choices=FAIL_ON, help="Lowest severity that fails the scan [default: high].")
    parser.add_argument("--allow", action="append", default=[], metavar="MODULE.NAME",
                        help="Allow MODULE.NAME (or MODULE.*); repeatable. Cannot silence a callable on the "
                             "dangerous table.")
    parser.add_argument("--config", dest="config_file", metavar="FILE",
                        help="Config file (assay.toml or pyproject.toml); default: ./assay.toml, else "
                             "./pyproject.toml with [tool.assay].")
    parser.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                        help="Processes that scan files side by side [default: one per CPU when the scan "
                             "has two files of 1 MiB or more, or 1,000 files; else 1].")
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress display.")


def _jobs(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 1024:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to 1024, got {text!r}")
    return int(text)


def _scan(args: argparse.Namespace) -> int:
    from assay.scan import find_config_file, load_scan_config, renderer_for, scan

    if args.config_file is not None and not os.path.isfile(args.config_file):
        raise UsageError(f"config file {args.config_file} does not exist")
    config = load_scan_config(args.config_file or find_config_file())
    on_file, stop = _progress(args.quiet or (args.output_format != "text" and args.output is None))
    try:
        report = scan(args.paths, fail_on=args.fail_on, strict=args.strict, allow=args.allow,
                      config=config, on_file=on_file, jobs=args.jobs)
    finally:
        stop()
    text = renderer_for(args.output_format).render(report, color=args.output is None and args.output_format == "text"
                                                      and sys.stdout.isatty())
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise AssayError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return report.exit_code


def _progress(quiet: bool):  # noqa: ANN202 - (callback, stop) pair
    """A status line with the file count and the latest file on a terminal; nothing otherwise.

    Redrawn from the callback, not by rich's refresh thread: a thread would keep the scan from forking its
    worker processes (``assay.scan.parallel.available``)."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    import time

    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    live = Live(Text("scanning"), console=Console(stderr=True), auto_refresh=False, transient=True)
    live.start(refresh=True)
    count = [0, 0.0]

    def on_file(path: str) -> None:
        count[0] += 1
        now = time.monotonic()
        if now - count[1] >= 0.1:  # at most ten redraws a second
            count[1] = now
            live.update(Text(f"scanning [{count[0]}] {path}", no_wrap=True, overflow="ellipsis"), refresh=True)

    return on_file, live.stop
