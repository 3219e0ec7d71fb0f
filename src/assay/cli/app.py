"""The Typer app with every command, and ``run_app``, which turns every AssayError into one line and an exit
code. ``scan``, ``models``, ``show``, ``lineage`` and ``where`` are only listed here and forwarded to their
argparse parsers (``scan.py``, ``reads.py``); see ``main.py`` for why."""

from __future__ import annotations

import sys

import typer

from assay import __version__
from assay.cli.fast import run_command

app = typer.Typer(
    name="assay",
    help="Inspect open-source AI models before anyone loads them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """assay: scan, hash, sign, register and gate AI models."""


from assay.cli import scan as _scan  # noqa: E402  (registers the command on `app`)

_scan.register(app)

from assay.cli import signing as _signing  # noqa: E402

_signing.register(app)

from assay.cli import registry as _registry  # noqa: E402

_registry.register(app)

from assay.cli import reads as _reads  # noqa: E402

_reads.register(app)

from assay.cli import release as _release  # noqa: E402

_release.register(app)


def run_app() -> None:
    """Run the Typer app on ``sys.argv`` (Typer exits by itself on success and on usage errors)."""
    sys.exit(run_command(lambda: app(standalone_mode=True)))


if __name__ == "__main__":
    run_app()
