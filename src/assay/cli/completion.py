"""``assay completion {bash,zsh,fish}``: print the shell snippet that turns on tab completion.

The snippet is argcomplete's: the shell runs ``assay`` with ``_ARGCOMPLETE`` set on every <Tab>, and
``main`` hands the parser to argcomplete, which answers from the same parser that runs the commands.
"""

from __future__ import annotations

import sys

from assay.cli._parsing import PROG, command

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    import argparse
    from typing import Any

SHELLS = ("bash", "zsh", "fish")
"""Shells ``assay completion`` writes a snippet for."""
HELP = ("Print the tab-completion script for SHELL. Add `eval \"$(assay completion bash)\"` to ~/.bashrc "
        "(zsh: `eval \"$(assay completion zsh)\"` in ~/.zshrc; fish: `assay completion fish | source` in "
        "~/.config/fish/config.fish).")


def register(subparsers: Any) -> None:
    """Add ``assay completion`` to the root parser's ``subparsers``."""
    parser = command(subparsers, "completion", HELP, completion_cmd)
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="One of: " + ", ".join(SHELLS) + ".")


def completion_cmd(args: argparse.Namespace) -> int:
    """Write the completion snippet for ``args.shell`` to stdout."""
    import argcomplete

    sys.stdout.write(argcomplete.shellcode([PROG], shell=args.shell))
    return 0
