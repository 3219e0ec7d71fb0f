"""The one exception hierarchy of assay; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class AssayError(Exception):
    """Root of every error assay raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2


class UsageError(AssayError):
    """The caller asked for something that cannot be done as asked (bad flag value, bad config)."""


class InputError(AssayError):
    """An input path is missing, unreadable, or not what it must be."""


class ConfigError(AssayError):
    """A configuration file is malformed or names an unknown setting."""
