"""The ``assay`` console script.

``assay scan`` is parsed with argparse and run without importing Typer: scanning is what CI pipelines run on
every file, and Typer with the modules it imports is about half of a scan's wall time (40 of 80 ms). Every
other command goes to the Typer app in ``app.py``, which lists ``scan`` in its help and forwards to the same
parser, so the scan flags are defined once.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["scan"]:
        from assay.cli.scan import main

        sys.exit(main(sys.argv[2:]))
    from assay.cli.app import run_app

    run_app()


if __name__ == "__main__":
    run()
