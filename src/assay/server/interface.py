"""The server's settings: every limit named, each from ``assay serve`` flags or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from assay.errors import ConfigError

MAX_REQUEST_BYTES = 1 << 20
"""A request body other than an upload may be at most this large (``ASSAY_MAX_REQUEST_BYTES``)."""
MAX_UPLOAD_BYTES = 64 << 30
"""An upload (a model folder as a tar stream) may be at most this large (``ASSAY_MAX_UPLOAD_BYTES``)."""
MAX_UPLOAD_FILES = 100_000
"""An upload may hold at most this many files and folders (``ASSAY_MAX_UPLOAD_FILES``)."""
MAX_FAILED_LOGINS = 20
"""Failed logins from one address within ``FAILED_LOGIN_WINDOW`` seconds before it is refused (429) for that long
(``ASSAY_MAX_FAILED_LOGINS``)."""
FAILED_LOGIN_WINDOW = 60
"""Seconds over which failed logins are counted (``ASSAY_FAILED_LOGIN_WINDOW``)."""


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Every bound the server enforces."""

    max_request_bytes: int = MAX_REQUEST_BYTES
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_upload_files: int = MAX_UPLOAD_FILES
    max_failed_logins: int = MAX_FAILED_LOGINS
    failed_login_window: int = FAILED_LOGIN_WINDOW
    tls: bool = False

    @classmethod
    def from_environment(cls) -> ServerLimits:
        """The limits from ``ASSAY_MAX_*`` and ``ASSAY_FAILED_LOGIN_WINDOW`` (what ``assay serve`` sets for its
        workers), else the defaults."""
        values: dict[str, int | bool] = {}
        for name in ("max_request_bytes", "max_upload_bytes", "max_upload_files", "max_failed_logins",
                     "failed_login_window"):
            text = os.environ.get(f"ASSAY_{name.upper()}")
            if text is not None:
                if not text.isdigit() or int(text) < 1:
                    raise ConfigError(f"ASSAY_{name.upper()}={text!r} is not a positive whole number")
                values[name] = int(text)
        values["tls"] = os.environ.get("ASSAY_SERVER_TLS") == "1"
        return cls(**values)  # type: ignore[arg-type]
