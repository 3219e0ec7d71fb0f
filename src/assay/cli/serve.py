"""``assay serve``: the team server over this machine's registry settings (``ASSAY_HOME``, ``ASSAY_DATABASE_URL``)."""

from __future__ import annotations

import sys

from assay.cli._parsing import at_least, command, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

DEFAULT_PORT = 8600


def register(subparsers: Any) -> None:
    """Add ``assay serve`` to the root parser's ``subparsers``."""
    serve = command(subparsers, "serve", "Serve the registry to a team: the REST API (/api/v1, OpenAPI at "
                    "/api/v1/openapi.json), authenticated by token, rights by role. Runs until interrupted.",
                    serve_cmd)
    serve.add_argument("--host", default="127.0.0.1", help="Address to listen on [default: 127.0.0.1].")
    serve.add_argument("--port", type=at_least(0), default=DEFAULT_PORT, help=f"[default: {DEFAULT_PORT}].")
    serve.add_argument("--workers", type=at_least(1), default=1, help="Worker processes [default: 1]; more than "
                       "one wants PostgreSQL (ASSAY_DATABASE_URL).")
    serve.add_argument("--init", action="store_true", help="First create an admin token for --name and print it "
                       "once (the first admin; later ones come from assay token create).")
    serve.add_argument("--name", help="Who the --init token speaks for [default: $ASSAY_ACTOR, else the OS user].")
    serve.add_argument("--tls-cert", type=path, metavar="PEM", help="Serve HTTPS with this certificate (chain).")
    serve.add_argument("--tls-key", type=path, metavar="PEM", help="The certificate's private key.")
    serve.add_argument("--oidc-issuer", metavar="URL", help="Also accept OIDC bearer JWTs of this issuer "
                       "[default: $ASSAY_OIDC_ISSUER].")
    serve.add_argument("--oidc-audience", metavar="AUD", help="The audience those JWTs must name (this server).")
    serve.add_argument("--oidc-jwks", metavar="URL|FILE", help="The issuer's keys (JWKS), fetched from a URL or read "
                       "from a file.")
    serve.add_argument("--oidc-name-claim", metavar="CLAIM", help="The claim that names the person [default: email].")
    serve.add_argument("--max-request-bytes", type=at_least(1), metavar="N", help="Largest request body but an "
                       "upload [default: 1 MiB].")
    serve.add_argument("--max-upload-bytes", type=at_least(1), metavar="N", help="Largest upload (a model folder) "
                       "[default: 64 GiB].")
    serve.add_argument("--max-upload-files", type=at_least(1), metavar="N", help="Most files in one upload "
                       "[default: 100000].")
    serve.add_argument("--max-failed-logins", type=at_least(1), metavar="N", help="Failed logins from one address "
                       "per minute before it is refused for a minute [default: 20].")


def serve_cmd(args: argparse.Namespace) -> int:
    """Serve (after ``--init``, with the first admin token printed)."""
    import dataclasses
    import os

    from assay.errors import UsageError
    from assay.server import ServerLimits, serve

    if os.environ.get("ASSAY_URL"):
        raise UsageError("ASSAY_URL is set: assay serve serves this machine's registry; unset ASSAY_URL to run it")
    limits = ServerLimits.from_environment()
    given = {k: v for k in ("max_request_bytes", "max_upload_bytes", "max_upload_files", "max_failed_logins")
             if (v := getattr(args, k)) is not None}
    limits = dataclasses.replace(limits, **given)
    for flag in ("issuer", "audience", "jwks", "name_claim"):
        value = getattr(args, f"oidc_{flag}")
        if value is not None:
            os.environ[f"ASSAY_OIDC_{flag.upper()}"] = value
    from assay.identity import OidcAuthenticator, OidcSettings

    oidc = OidcSettings.from_environment()
    if oidc is not None:
        OidcAuthenticator(oidc)  # a JWKS file that cannot be read is an error now, not in every worker
    if args.init:
        from assay.services import execute

        result = execute("token.create", {"name": args.name or _local_name(), "role": "admin"}, actor=args.name)
        sys.stdout.write(f"admin token (shown once): {result.doc['token']}\n")
        sys.stdout.flush()
    serve(args.host, args.port, args.workers, limits=limits, certificate=args.tls_cert, key=args.tls_key)
    return 0


def _local_name() -> str:
    from assay.config import load_settings

    return load_settings().actor
