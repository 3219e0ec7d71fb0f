"""Every value a session writes fits its column and holds no character a terminal would act on, checked before the
database sees it, the same on both databases.

PostgreSQL refuses a string longer than its ``VARCHAR(n)`` with an error in the middle of a transaction; SQLite
stores it whole. Both now get the same one-line ``UsageError`` naming the field and the limit, before anything is
written. A short (``String``) column holds a name: no control or bidirectional character at all; a ``Text``
column holds free text: line breaks and tabs allowed (``assay._text``). Rows inserted with Core statements
(``insert_or_ignore``) are checked where they are built.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, event, inspect
from sqlalchemy.orm import Session

from assay._text import check_text
from assay.errors import UsageError

_CHECKED_TEXT = {"audit_entries", "audit_checkpoints"}  # assay's own canonical JSON and signed notes
MAX_TEXT_CHARS = 16384
"""The longest free text (a ``Text`` column: a note, a reason, a comment, a path) a row may hold."""


def check_values(table: str, values: dict[str, Any], columns: Any) -> None:
    """Refuse a value of ``values`` too long for its column of ``columns`` or holding an unsafe character."""
    if table in _CHECKED_TEXT:
        return
    for column in columns:
        value = values.get(column.key)
        if not isinstance(value, str) or not isinstance(column.type, String):
            continue
        field = f"{table}.{column.key}"
        limit = column.type.length or (MAX_TEXT_CHARS if isinstance(column.type, Text) else None)
        if limit is not None and len(value) > limit:
            raise UsageError(f"{field} is {len(value)} characters long; it holds at most {limit}")
        check_text(value, field, multiline=isinstance(column.type, Text))


@event.listens_for(Session, "before_flush")
def _check_pending(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        mapper = inspect(obj).mapper
        check_values(mapper.local_table.name, {c.key: getattr(obj, c.key, None) for c in mapper.column_attrs},
                     mapper.columns)
