# PYTHON_ARGCOMPLETE_OK  (argcomplete's global completion looks for this marker in the entry point's module)
"""The ``assay`` console script: one argparse parser, one dispatch, one error boundary.

Each command group is a module here with ``register(subparsers)``, which adds its commands and points each at
its function with ``set_defaults(func=...)``; adding a command touches that one module. Registering is cheap on
purpose: a group module imports only argparse-level things at the top, and a command function imports what it
needs when it runs, so ``assay scan`` loads neither the registry, nor the signing code, nor JSON, nor rich
(``assay scan`` must start faster than picklescan; the registry reads have a 100 ms target).

Errors: a bad command line, like every ``AssayError``, is one line on stderr and exit 2 (see ``_running``).
Tab completion: argcomplete, loaded only when the shell asks for completions (``assay completion``).
"""

from __future__ import annotations

import argparse
import os
import sys

from assay.cli import audit, completion, governance, reads, registry, release, scan, serve, signing
from assay.cli._parsing import PROG, OneLineParser, add_commands, help_exit
from assay.cli._running import run_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

GROUPS: tuple[ModuleType, ...] = (scan, signing, registry, reads, release, governance, audit, serve, completion)
"""The modules that add commands, in the order ``assay --help`` lists them."""


def build_parser(*, every_command: bool = False) -> argparse.ArgumentParser:
    """The whole ``assay`` command line. A command's own parser is built when that command is parsed (see
    ``Subcommands``); ``every_command=True`` builds them all now, for whatever walks the tree."""
    parser = OneLineParser(prog=PROG, description="Inspect open-source AI models before anyone loads them.")
    parser.add_argument("--version", action="store_true", help="Print the version and exit.")
    parser.set_defaults(func=help_exit(parser))  # no command: the help, on stderr, exit 2
    commands = add_commands(parser)
    for module in GROUPS:
        module.register(commands)
    if every_command:
        commands.build_all()
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``assay`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    completing = "_ARGCOMPLETE" in os.environ  # the shell asks for completions (see ``completion.py``)
    parser = build_parser(every_command=completing)
    if completing:  # argcomplete costs ~10 ms to import: only then
        import argcomplete

        argcomplete.autocomplete(parser)
    return run_command(lambda: _dispatch(parser, sys.argv[1:] if argv is None else argv))


def _dispatch(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    if args.version:
        from assay import __version__

        sys.stdout.write(f"assay {__version__}\n")
        return 0
    code: int = args.func(args)
    return code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
