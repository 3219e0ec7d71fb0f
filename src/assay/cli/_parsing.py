"""What every command group uses to declare its command line: the one parser class (bad command line = one
line and exit 2), the group helper, and the shared options and value types.

Everything here runs on every invocation, ``assay scan`` included, so it imports nothing argparse has not
already imported: value types that need ``pathlib`` import it when a value is converted.
"""

from __future__ import annotations

import argparse
import os
import sys

from assay.errors import UsageError

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any, NoReturn

PROG = "assay"
"""The program name in usage lines and completion scripts."""
FORMATS = ("text", "json")
"""The output formats of every reporting command (``assay scan`` adds SARIF)."""


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal width: left to itself it imports shutil (and bz2, lzma) to ask."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(sys.stdout.fileno()).columns
        except (ValueError, OSError):
            width = 80
        super().__init__(prog, width=max(width - 2, 20))


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit 2, like every other assay error.

    ``intermixed=True`` lets positionals follow options (``assay scan a.pkl --quiet b.pkl``), also when the
    parser is a subcommand, which ``parse_intermixed_args`` on the root parser cannot do.
    """

    def __init__(self, *args: Any, intermixed: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self._intermixed = intermixed
        self._in_intermixed = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """argparse's, intermixed for parsers made with ``intermixed=True``."""
        if not self._intermixed or self._in_intermixed:
            return super().parse_known_args(args, namespace)
        self._in_intermixed = True  # before 3.13 the intermixed parse calls back into this method
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._in_intermixed = False

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def command(subparsers: Any, name: str, help_text: str, func: Callable[[argparse.Namespace], int],
            **kwargs: Any) -> OneLineParser:
    """Add command ``name`` to ``subparsers``; ``func(args)`` runs it and returns the exit code."""
    parser: OneLineParser = subparsers.add_parser(name, help=summary(help_text), description=help_text, **kwargs)
    parser.set_defaults(func=func)
    return parser


def group(subparsers: Any, name: str, help_text: str) -> Any:
    """Add a command group (``assay audit ...``) and return its subparsers. Without a subcommand the group
    prints its help on stderr and exits 2."""
    parser: OneLineParser = subparsers.add_parser(name, help=summary(help_text), description=help_text)
    parser.set_defaults(func=help_exit(parser))
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def summary(help_text: str) -> str:
    """The first sentence of ``help_text``: what a command list shows (the command's ``--help`` shows it all)."""
    end = help_text.find(". ")
    return help_text if end < 0 else help_text[:end + 1]


def help_exit(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A command function that prints ``parser``'s help on stderr and returns 2 (a group with no command)."""

    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format/-f {text,json}``, stored as ``args.fmt``."""
    parser.add_argument("--format", "-f", dest="fmt", choices=FORMATS, default="text",
                        help="Output format [default: text].")


def add_actor(parser: argparse.ArgumentParser) -> None:
    """``--actor NAME``: who is acting, for the commands that record something."""
    parser.add_argument("--actor", help="Who is acting [default: $ASSAY_ACTOR, else the OS user].")


def path(text: str) -> Path:
    """argparse type: a filesystem path (pathlib is imported only when a command takes one)."""
    from pathlib import Path

    return Path(text)


def at_least(low: int) -> Callable[[str], int]:
    """argparse type: an integer not below ``low``."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not at least {low}")
        return value

    convert.__name__ = f"integer >= {low}"
    return convert
