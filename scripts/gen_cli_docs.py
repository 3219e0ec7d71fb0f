"""Write the command reference of ``docs/cli.md`` from the ``assay`` parser, or check that it is up to date.

The part between the ``commands`` markers of ``docs/cli.md`` is generated: a table of every command, then one
section per command with its description, a usage line and a table of its arguments and options, all read from
the one argparse parser (``assay.cli.main.build_parser``). The prose around the markers is hand-written and left
alone. The usage lines and tables are built from the parser's actions, not from argparse's help formatter,
whose layout changes between Python versions and terminal widths. Run from anywhere:

    .venv/bin/python scripts/gen_cli_docs.py            # rewrite the reference
    .venv/bin/python scripts/gen_cli_docs.py --check    # exit 1 when docs/cli.md differs

Exit codes: 0 up to date (or written), 1 ``--check`` found it out of date, 2 could not generate (the markers
are missing, the file cannot be read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DOC = ROOT / "docs" / "cli.md"
GENERATOR = "scripts/gen_cli_docs.py"
BEGIN = f"<!-- BEGIN GENERATED commands by {GENERATOR}: do not edit by hand -->"
END = "<!-- END GENERATED commands -->"


class GenError(Exception):
    """The reference cannot be produced (missing markers, unreadable file): one line for the user."""


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...],
                                                                                        argparse.ArgumentParser, str]]:
    """Every command that runs something, in the order ``--help`` lists them: (words, parser, one-line help)."""
    found = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                found += _commands(sub, (*words, name))
            else:
                found.append(((*words, name), sub, summaries.get(name, "")))
    return found


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading made of lower-case words, spaces and backticks."""
    return heading.replace("`", "").strip().lower().replace(" ", "-")


def _value(action: argparse.Action) -> str:
    """What an argument or option takes: its choices, its metavar, or nothing for a flag."""
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        return " \\| ".join(f"`{c}`" for c in action.choices)
    metavar = action.metavar or (action.dest if not action.option_strings else action.dest.upper())
    return f"`{metavar}`"


def _usage(words: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    parts = ["assay", *words]
    has_options = False
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            if action.required:
                parts.append(f"{action.option_strings[0]} {(_value(action) or '').strip('`')}".strip())
            else:
                has_options = True
        else:
            name = str(action.metavar or action.dest)
            parts.append(f"{name} [{name} ...]" if action.nargs == "+" else name)
    if has_options:
        parts.insert(len(words) + 1, "[OPTIONS]")
    return " ".join(parts)


def _row(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{o}`" for o in sorted(action.option_strings, key=len, reverse=True))
        value = _value(action)
    else:  # a positional: its name, and its choices if it has any
        names = f"`{action.metavar or action.dest}`"
        value = _value(action) if action.choices is not None else ""
    notes = []
    if action.required and action.option_strings:
        notes.append("Required.")
    if isinstance(action, argparse._AppendAction) and "repeatable" not in (action.help or "").lower():
        notes.append("Repeatable.")
    elif action.nargs == "+":
        notes.append("One or more.")
    help_text = action.help or ""
    if (action.option_strings and action.nargs != 0 and action.default not in (None, [], False)
            and "[default:" not in help_text):
        notes.append(f"Default: `{action.default}`.")
    return f"| {names} | {value} | {_cell(' '.join([help_text, *notes]).strip())} |"


def render(parser: argparse.ArgumentParser) -> str:
    """The generated reference: the command table, then a section per command."""
    commands = _commands(parser)
    lines = ["| command | what it does |", "|---|---|"]
    for words, _sub, summary in commands:
        heading = f"`assay {' '.join(words)}`"
        lines.append(f"| [{heading}](#{_slug(heading)}) | {_cell(summary)} |")
    for words, sub, _summary in commands:
        lines += ["", f"### `assay {' '.join(words)}`", "", " ".join((sub.description or "").split()), "",
                  "```", _usage(words, sub), "```", ""]
        actions = [a for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        if actions:
            lines += ["| argument or option | value | meaning |", "|---|---|---|"]
            lines += [_row(a) for a in actions]
        else:
            lines.append("No arguments or options (`--help` only).")
    return "\n".join(lines) + "\n"


def expected() -> str:
    """The whole of docs/cli.md as it should be."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    from assay.cli.main import build_parser

    try:
        text = DOC.read_text(encoding="utf-8")
    except OSError as exc:
        raise GenError(f"cannot read {DOC.relative_to(ROOT)}: {exc.strerror}") from exc
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise GenError(f"{DOC.relative_to(ROOT)}: missing markers {BEGIN!r} ... {END!r}")
    body = render(build_parser(every_command=True)).rstrip("\n")
    return text[: start + len(BEGIN)] + "\n\n" + body + "\n\n" + text[stop:]


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the reference; see the module docstring for exit codes."""
    parser = argparse.ArgumentParser(prog="gen_cli_docs.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when docs/cli.md differs")
    args = parser.parse_args(argv)
    try:
        content = expected()
    except GenError as exc:
        print(f"gen_cli_docs.py: error: {exc}", file=sys.stderr)
        return 2
    if DOC.read_text(encoding="utf-8") == content:
        return 0
    if args.check:
        print(f"out of date: {DOC.relative_to(ROOT)} (run .venv/bin/python {GENERATOR})", file=sys.stderr)
        return 1
    DOC.write_text(content, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
