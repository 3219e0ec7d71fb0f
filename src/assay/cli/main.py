"""The ``assay`` console script.

``assay scan`` and the registry's read commands (``models``, ``show``, ``lineage``, ``where``) are parsed with
argparse and run without importing Typer. Scanning is what CI pipelines run on every file, the reads are what
people type during an incident, and Typer with the modules it pulls in costs about 35 ms of start-up, close to
half of such a command's wall time (targets: faster than picklescan; reads under 100 ms). Every other command
goes to the Typer app in ``app.py``, which lists these too and forwards to the same parsers, so each flag is
defined once.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Console-script entry point."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "scan":
        from assay.cli.scan import main

        sys.exit(main(sys.argv[2:]))
    if command in ("models", "show", "lineage", "where"):
        from assay.cli.reads import main as read

        sys.exit(read(command, sys.argv[2:]))
    from assay.cli.app import run_app

    run_app()


if __name__ == "__main__":
    run()
