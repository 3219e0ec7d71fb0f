"""Running the server: uvicorn with N worker processes, each building the app from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay.config import load_settings
from assay.errors import UsageError
from assay.server.interface import ServerLimits


def app_from_environment() -> Any:
    """The app of the registry ``ASSAY_HOME`` / ``ASSAY_DATABASE_URL`` name, with the limits of ``ASSAY_MAX_*``:
    what each uvicorn worker calls (``uvicorn --factory assay.server:app_from_environment``)."""
    from assay.identity import OidcSettings
    from assay.server._app import create_app

    return create_app(load_settings(), ServerLimits.from_environment(), OidcSettings.from_environment())


def serve(host: str, port: int, workers: int, *, limits: ServerLimits, certificate: Path | None = None,
          key: Path | None = None) -> None:
    """Serve until interrupted. The limits reach the workers through the environment."""
    import uvicorn

    if (certificate is None) != (key is None):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    for path in (certificate, key):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file")
    for name in ("max_request_bytes", "max_upload_bytes", "max_upload_files", "max_failed_logins",
                 "failed_login_window"):
        os.environ[f"ASSAY_{name.upper()}"] = str(getattr(limits, name))
    os.environ["ASSAY_SERVER_TLS"] = "1" if certificate else "0"
    uvicorn.run("assay.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                ssl_certfile=None if certificate is None else str(certificate),
                ssl_keyfile=None if key is None else str(key), log_level="info", server_header=False,
                proxy_headers=False)
