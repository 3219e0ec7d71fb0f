"""The team server: one registry for a team, behind authentication and roles (``assay serve``).

``create_app(settings)`` is the ASGI app (FastAPI); ``app_from_environment()`` builds it from ``ASSAY_*`` settings
for each uvicorn worker; ``serve`` runs it. Every operation of ``assay.services`` is served under ``/api/v1``, with
its OpenAPI document at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from assay.server._app import create_app, error_response
from assay.server._serve import app_from_environment, serve
from assay.server.interface import ServerLimits

__all__ = ["ServerLimits", "app_from_environment", "create_app", "error_response", "serve"]
