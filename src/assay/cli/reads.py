"""``assay models``, ``show``, ``lineage`` and ``where``: the registry's answers on the command line.

These are the commands typed during an incident: they read through the registry's one read path (``Reader``
and the reference resolver) on a DB-API connection of their own, without importing SQLAlchemy
(``registry/_sql.py`` says why).
"""

from __future__ import annotations

from assay.cli._parsing import add_format, command
from assay.cli._running import operation_command

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    from typing import Any

HELP = {
    "models": "List registered models with their newest version.",
    "show": "Everything known about NAME[@VERSION], evidence listed with digests.",
    "lineage": "Base models up, derived versions down, and datasets of NAME[@VERSION].",
    "where": "Every version, dataset, artifact and evidence that is, contains or derives from DIGEST or NAME@VERSION.",
}
"""The read commands and their one-line help."""


def register(subparsers: Any) -> None:
    """Add the read commands to the root parser's ``subparsers``."""
    for name, help_text in HELP.items():
        parser = command(subparsers, name, help_text, _command(name))
        if name == "models":
            parser.add_argument("--owner", help="Only models with this owner.")
            parser.add_argument("--license-class", help="Only models whose newest version has this license class.")
            parser.add_argument("--status", choices=("accepted", "rejected"), help="Status of the newest version.")
        elif name == "where":
            parser.add_argument("query", metavar="QUERY", help="A digest (sha256:HEX or 8+ hex digits) or NAME@VERSION.")
        else:
            parser.add_argument("ref", metavar="REF", help="NAME, NAME@NUMBER or NAME@sha256:PREFIX.")
        add_format(parser)


def _command(name: str) -> Any:
    return operation_command(name)
