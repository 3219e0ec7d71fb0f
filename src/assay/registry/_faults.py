"""A database error is one line that says what is wrong and what to do, never a driver's traceback.

Each fault the registry can meet from outside (a damaged SQLite file, a table or column dropped by hand, a
read-only home, a full disk, a string too long for its column, a server that went away) is recognised by the
driver's message and turned into ``DatabaseFault`` (exit 2). The transaction it happened in is rolled back by its
owner, so nothing half-written stays. By hand: neither SQLAlchemy nor the drivers classify these for a person.
"""

from __future__ import annotations

from assay.errors import AssayError

# (words in the driver's message, what it means for the person at the terminal)
_KINDS = (
    (("malformed", "not a database", "corrupt", "integrity check"),
     "the registry database is damaged ({reason}): restore it from a backup; nothing was changed"),
    (("no such table", "no such column", "has no column", "does not exist"),
     "the registry database does not have the tables this assay wrote ({reason}): it was changed outside "
     "assay; restore it from a backup; nothing was changed"),
    (("readonly", "read-only", "unable to open", "permission denied", "read only"),
     "the registry database cannot be written ({reason}): is ASSAY_HOME read-only? nothing was changed"),
    (("disk is full", "no space left", "disk full", "database or disk is full", "could not extend", "quota"),
     "the disk is full ({reason}): free space and run it again; nothing was changed"),
    (("value too long", "string data right truncation"),
     "a value is too long for its column ({reason}); nothing was changed"),
)


class DatabaseFault(AssayError):
    """The database could not do what was asked (damaged, changed outside assay, read-only, full, gone): nothing
    was changed (exit 2)."""

    http_status = 503


def database_fault(exc: BaseException) -> DatabaseFault:
    """The one-line fault for a driver or SQLAlchemy error ``exc``."""
    reason = str(getattr(exc, "orig", None) or exc).strip()
    reason = reason.splitlines()[0] if reason else type(exc).__name__
    lowered = reason.lower()
    for words, message in _KINDS:
        if any(w in lowered for w in words):
            return DatabaseFault(message.format(reason=reason))
    return DatabaseFault(f"the registry database refused the request ({reason}); nothing was changed")
