"""What every command group uses to declare its command line: the one parser class (bad command line = one
line and exit 2), subcommands whose parsers are built on first use, the command and group helpers, and the
shared options and value types.

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


class Arguments:
    """The arguments and options of one command, as ``register`` declares them: recorded here, added to the
    command's parser when that command is the one being run (or when every parser is wanted: help for tab
    completion, the generated reference)."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        """Declare an argument or option, with ``ArgumentParser.add_argument``'s parameters."""
        self.calls.append((args, kwargs))


class Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """argparse's subcommand action with each subcommand's parser built on first use.

    Building an ``ArgumentParser`` costs about 0.1 ms (argparse looks up translations for its headings), and
    ``assay`` has some forty: built eagerly they would cost ``assay scan`` 5 ms of start-up. The listing in
    ``--help`` and the check of the command name need only the names and one-line helps, which are kept from the
    start; a parser is built when its command is parsed, or by ``build_all``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, tuple[dict[str, Any], Callable[[argparse.ArgumentParser], None]]] = {}

    def add_lazy(self, name: str, help_text: str, build: Callable[[argparse.ArgumentParser], None],
                 **kwargs: Any) -> None:
        """List subcommand ``name`` now; ``build(parser)`` fills its parser (made with ``kwargs``) when needed."""
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help_text))
        self._name_parser_map[name] = None  # type: ignore[assignment]  # a known name; its parser comes later
        self._pending[name] = (kwargs, build)

    def build(self, name: str) -> None:
        """Build the parser of subcommand ``name`` if it is not built yet."""
        if name in self._pending:
            kwargs, build = self._pending.pop(name)
            del self._name_parser_map[name]
            build(self.add_parser(name, **kwargs))

    def build_all(self) -> None:
        """Build every subcommand's parser, and theirs in turn."""
        for name in list(self._pending):
            self.build(name)
        for parser in self._name_parser_map.values():
            for action in parser._actions:
                if isinstance(action, Subcommands):
                    action.build_all()

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        self.build(values[0])
        super().__call__(parser, namespace, values, option_string)


class Group:
    """The subcommands of a group whose parser is not built yet: ``add_lazy`` calls kept for when it is."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def add_lazy(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


def add_commands(parser: argparse.ArgumentParser) -> Subcommands:
    """The subcommand action of ``parser`` (the root, or a group): ``commands:`` in its help."""
    return parser.add_subparsers(action=Subcommands, title="commands", metavar="COMMAND")  # type: ignore[return-value]


def command(subparsers: Subcommands | Group, name: str, help_text: str,
            func: Callable[[argparse.Namespace], int], **kwargs: Any) -> Arguments:
    """Add command ``name`` to ``subparsers`` (the root's, or a group's); ``func(args)`` runs it and returns the
    exit code. Declare its arguments on the returned ``Arguments``."""
    arguments = Arguments()

    def build(parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(func=func)
        for args, options in arguments.calls:
            parser.add_argument(*args, **options)

    subparsers.add_lazy(name, summary(help_text), build, description=help_text, **kwargs)
    return arguments


def group(subparsers: Subcommands | Group, name: str, help_text: str) -> Group:
    """Add a command group (``assay audit ...``) and return where its commands go. Without a command the group
    prints its help on stderr and exits 2."""
    commands = Group()

    def build(parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(func=help_exit(parser))
        inner = add_commands(parser)
        for args, options in commands.calls:
            inner.add_lazy(*args, **options)

    subparsers.add_lazy(name, summary(help_text), build, description=help_text)
    return commands


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


def add_format(parser: Arguments) -> None:
    """``--format/-f {text,json}``, stored as ``args.fmt``."""
    parser.add_argument("--format", "-f", dest="fmt", choices=FORMATS, default="text",
                        help="Output format [default: text].")


def add_actor(parser: Arguments) -> None:
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


def moment(*, end_of_day: bool = False) -> Callable[[str], object]:
    """argparse type: a time, ISO 8601 (``2026-12-03T14:05``, UTC unless it says otherwise) or a date
    (``2026-12-03``: the start of that day, UTC; ``end_of_day``: through that whole day)."""

    def convert(text: str) -> object:
        from datetime import UTC, datetime, timedelta

        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
        if len(text) == 10 and end_of_day:
            when += timedelta(days=1)
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    convert.__name__ = "time"
    return convert


def days(text: str) -> int:
    """argparse type: a number of days, ``90`` or ``90d``."""
    number = text[:-1] if text.endswith("d") else text
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (e.g. 90d)")
    return int(number)
