"""What the command functions share when they run: the one error boundary, the text-or-JSON writer and the
registry they open. Imported by ``main`` on every invocation, so its own imports stay light: the registry,
JSON and contextlib load inside the functions that need them."""

from __future__ import annotations

import os
import sys

from assay.errors import AssayError

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def run_command(body: Callable[[], int]) -> int:
    """Run ``body`` and turn an AssayError into one line on stderr and its exit code: the one error boundary
    of the command line (a bad command line is a ``UsageError`` too, raised by ``OneLineParser``)."""
    try:
        return body()
    except AssayError as exc:
        return _error_line(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("assay: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (`assay models | head -1`): the output is theirs to cut
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error while exiting
        return 2
    except OSError as exc:  # a file the command writes: missing folder, read-only file system, full disk
        where = f"{exc.filename}: " if exc.filename else ""
        return _error_line(f"{where}{exc.strerror or exc}", 2)


def _error_line(message: str, code: int) -> int:
    """Write ``assay: error: MESSAGE`` as one line, whatever the message holds, and return ``code``."""
    from assay._text import printable

    sys.stderr.write("assay: error: " + printable(message).replace("\n", "\\n").replace("\t", " ") + "\n")
    return code


def emit(fmt: str, doc: Any, text: str) -> None:
    """Write ``doc`` as indented JSON when ``fmt`` is ``json``, else ``text`` with every control or bidirectional
    character escaped (``assay._text.printable``), to stdout."""
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from assay._text import printable

        sys.stdout.write(printable(text))


def operation_command(name: str, prepare: Callable[[Any, dict[str, Any]], None] | None = None
                      ) -> Callable[[Any], int]:
    """The command function of service operation ``name``: the parsed arguments become its parameters (``prepare``
    may adjust them), it runs on the embedded registry or on ``ASSAY_URL`` (``assay.services.execute``), and its
    document or text is written with its exit code."""

    def run(args: Any) -> int:
        from assay.services import execute

        values = dict(vars(args))
        if prepare is not None:
            prepare(args, values)
        result = execute(name, values, actor=getattr(args, "actor", None))
        emit(args.fmt, result.doc, result.text)
        return result.exit_code

    return run
