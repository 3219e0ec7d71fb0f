"""The one exception hierarchy of assay; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class AssayError(Exception):
    """Root of every error assay raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2
    http_status: int = 400
    """What the server answers with: 400 for a bad request; a subclass says 404, 409, 422 or 503."""


class UsageError(AssayError):
    """The caller asked for something that cannot be done as asked (bad flag value, bad config)."""


class InputError(AssayError):
    """An input path is missing, unreadable, or not what it must be."""


class ConfigError(AssayError):
    """A configuration file is malformed or names an unknown setting."""


class Unauthenticated(AssayError):
    """No credential, or one that is unknown, expired, revoked or malformed (HTTP 401)."""

    http_status = 401


class Forbidden(UsageError):
    """The caller is known but lacks the right the call needs; the message names it (HTTP 403, exit 2)."""

    http_status = 403
