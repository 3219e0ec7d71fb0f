"""What the commands that run without Typer share: argparse with one-line errors, the error-to-exit-code
wrapper, and the Typer stub that lists such a command in ``assay --help`` and forwards to it.

Why these commands skip Typer: see ``main.py``.
"""

from __future__ import annotations

import argparse
import os
import sys

from assay.errors import AssayError, UsageError

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal width: left to itself it imports shutil (and bz2, lzma) to ask."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(sys.stdout.fileno()).columns
        except (ValueError, OSError):
            width = 80
        super().__init__(prog, width=max(width - 2, 20))


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit 2, like every other assay error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def run_command(body: Callable[[], int]) -> int:
    """Run ``body`` and turn an AssayError into one line on stderr and its exit code."""
    try:
        return body()
    except AssayError as exc:
        sys.stderr.write(f"assay: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("assay: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (`assay models | head -1`): the output is theirs to cut
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error while exiting
        return 2


def forward(app: Any, name: str, help_text: str, main: Callable[[list[str]], int]) -> None:
    """List ``name`` in the Typer ``app`` and hand its words to ``main`` (the console script calls ``main``
    directly; this path serves ``python -m assay.cli.app`` and the app's help)."""
    import typer

    def command(ctx) -> None:  # noqa: ANN001 - annotated below: typer is imported lazily here
        raise typer.Exit(main(list(ctx.args)))

    command.__annotations__ = {"ctx": typer.Context, "return": None}
    app.command(name, help=help_text, add_help_option=False,
                context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(command)
