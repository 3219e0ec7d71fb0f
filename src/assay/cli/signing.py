"""``assay hash``, ``assay sign``, ``assay verify``, ``assay keygen``: OMS v1.0 model signatures."""

from __future__ import annotations

import sys

from assay.cli._parsing import Arguments, add_format, at_least, command, path
from assay.cli._running import emit

TYPE_CHECKING = False  # typing costs milliseconds to import; these names are for type checkers only
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from typing import Any

    _Callbacks = tuple[Callable[[int], None] | None, Callable[[int], None] | None]

PROGRESS_MIN_BYTES = 256 * 1024 * 1024
"""Models smaller than this hash too fast for a progress bar to help."""
HASH_TYPES = ("sha256", "blake3", "blake2b")
"""Digest algorithms for resources."""
CURVES = ("p256", "p384", "p521")
"""EC curves for keygen."""


def register(subparsers: Any) -> None:
    """Add hash, sign, verify and keygen to the root parser's ``subparsers``."""
    hash_ = command(subparsers, "hash", "Print a model's OMS manifest and its identity (the root digest).",
                    hash_command)
    hash_.add_argument("model", type=path, metavar="MODEL", help="Model folder (or single file).")
    _hashing_options(hash_)
    add_format(hash_)

    sign = command(subparsers, "sign", "Sign a model folder into an OpenSSF Model Signing bundle (EC key or "
                   "certificate).", sign_command)
    sign.add_argument("model", type=path, metavar="MODEL", help="Model folder (or single file).")
    sign.add_argument("--key", type=path, metavar="FILE", required=True, help="EC private key (PEM; P-256, P-384 or P-521). An "
                      "encrypted key reads its password from ASSAY_KEY_PASSWORD.")
    sign.add_argument("--cert-chain", type=path, metavar="FILE", help="Certificate chain (PEM), signing certificate first: sign "
                      "with the certificate method.")
    sign.add_argument("--signature", type=path, metavar="FILE", help="Where to write the bundle [default: MODEL/model.sig].")
    _hashing_options(sign)
    add_format(sign)

    verify = command(subparsers, "verify", "Verify a model folder against its signature bundle. "
                     "Exit codes: 0 verified, 1 verified false, 2 could not verify.", verify_command)
    verify.add_argument("model", type=path, metavar="MODEL", help="Model folder (or single file).")
    verify.add_argument("--public-key", type=path, metavar="FILE", help="Verify a key-method signature with this EC public key "
                        "(PEM).")
    verify.add_argument("--cert-chain", type=path, metavar="FILE", help="Verify a certificate-method signature against these "
                        "trusted CA certificates (PEM).")
    verify.add_argument("--sigstore", action="store_true", help="Verify a Sigstore keyless signature, offline.")
    verify.add_argument("--identity", help="With --sigstore: the signer identity expected in the certificate "
                        "(email or URI).")
    verify.add_argument("--issuer", help="With --sigstore: the OIDC issuer expected.")
    verify.add_argument("--trust-root", type=path, metavar="FILE", help="With --sigstore: the Sigstore trusted root (JSON) "
                        "[default: the public-good root shipped with sigstore].")
    verify.add_argument("--signature", type=path, metavar="FILE", help="The bundle [default: MODEL/model.sig].")
    _ignore_option(verify)
    verify.add_argument("--allow-unsigned-files", action="store_true", help="Do not fail on files the signature "
                        "does not list.")
    _workers_option(verify)
    add_format(verify)

    keygen = command(subparsers, "keygen", "Write an EC key pair: OUT_PREFIX.pem (private, 0600) and "
                     "OUT_PREFIX.pub.pem.", keygen_command)
    keygen.add_argument("out_prefix", type=path, metavar="OUT_PREFIX", help="Writes OUT_PREFIX.pem and "
                        "OUT_PREFIX.pub.pem.")
    keygen.add_argument("--curve", choices=CURVES, default="p256", help="Elliptic curve [default: p256].")
    add_format(keygen)


def _hashing_options(parser: Arguments) -> None:
    parser.add_argument("--shard-size", type=at_least(1), metavar="N", help="Hash files in shards of N bytes "
                        "(the 'shards' method).")
    parser.add_argument("--hash", dest="hash_type", choices=HASH_TYPES, default="sha256",
                        help="Digest algorithm [default: sha256].")
    _ignore_option(parser)
    parser.add_argument("--allow-symlinks", action="store_true", help="Follow symbolic links instead of refusing "
                        "them.")
    parser.add_argument("--no-ignore-git", action="store_true", help="Hash .git, .gitattributes, .github and "
                        ".gitignore too.")
    _workers_option(parser)


def _ignore_option(parser: Arguments) -> None:
    parser.add_argument("--ignore", type=path, action="append", default=[], metavar="PATH",
                        help="Leave PATH (a file or folder, relative to the current directory or the model) out "
                        "of the manifest; repeatable.")


def _workers_option(parser: Arguments) -> None:
    parser.add_argument("--workers", type=at_least(1), metavar="N", help="Hashing threads [default: one per "
                        "core].")


def hash_command(args: argparse.Namespace) -> int:
    """Hash MODEL and print its manifest."""
    from assay.manifest import hash_model

    with _progress(args.fmt == "text") as (on_total, on_bytes):
        manifest = hash_model(args.model, hash_type=args.hash_type, shard_size=args.shard_size, ignore=args.ignore,
                              ignore_git=not args.no_ignore_git, allow_symlinks=args.allow_symlinks,
                              workers=args.workers, on_bytes=on_bytes, on_total=on_total)
    if args.fmt == "json":
        emit("json", manifest.to_json(), "")
        return 0
    s = manifest.serialization
    method = f"{s.method} ({s.hash_type}" + (f", shard size {s.shard_size}" if s.shard_size else "") + ")"
    lines = [f"model      {manifest.model_name}", f"identity   {manifest.identity}",
             f"method     {method}, {manifest.total_files} files, {len(manifest.resources)} digests",
             f"ignored    {', '.join(s.ignore_paths) or '-'}", ""]
    lines += [f"{r.hex}  {r.name}" for r in manifest.resources]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def sign_command(args: argparse.Namespace) -> int:
    """Sign MODEL with KEY (and optionally a certificate chain)."""
    from assay.signing import sign_model, signer_for

    signer = signer_for(args.key, args.cert_chain)
    with _progress(args.fmt == "text") as (on_total, on_bytes):
        manifest, written = sign_model(args.model, signer, signature=args.signature, hash_type=args.hash_type,
                                       shard_size=args.shard_size, ignore=args.ignore,
                                       ignore_git=not args.no_ignore_git, allow_symlinks=args.allow_symlinks,
                                       workers=args.workers, on_bytes=on_bytes, on_total=on_total)
    doc = {"schema": "assay.sign/1.0", "model": str(args.model), "signature": str(written),
           "identity": manifest.identity, "files": manifest.total_files,
           "method": "certificate" if args.cert_chain else "key"}
    emit(args.fmt, doc, f"signed {args.model}: {manifest.total_files} files, identity {manifest.identity}\n"
         f"signature written to {written}\n")
    return 0


def verify_command(args: argparse.Namespace) -> int:
    """Verify MODEL's signature and every file's digest."""
    from assay.signing import verifier_for, verify_model

    verifier = verifier_for(public_key=args.public_key, cert_chain=args.cert_chain, sigstore=args.sigstore,
                            sigstore_identity=args.identity, sigstore_issuer=args.issuer,
                            trust_root=args.trust_root, labels=("--public-key", "--cert-chain", "--sigstore"))
    with _progress(args.fmt == "text") as (on_total, on_bytes):
        result = verify_model(args.model, verifier, signature=args.signature, ignore=args.ignore,
                              allow_unsigned_files=args.allow_unsigned_files, workers=args.workers,
                              on_bytes=on_bytes, on_total=on_total)
    emit(args.fmt, result.to_json(), _render(result))
    code: int = result.exit_code
    return code


def keygen_command(args: argparse.Namespace) -> int:
    """Generate an EC key pair for ``assay sign --key``."""
    from assay.signing import keygen

    private, public = keygen(args.out_prefix, args.curve)
    emit(args.fmt, {"schema": "assay.keygen/1.0", "curve": args.curve, "private_key": str(private),
                    "public_key": str(public)},
         f"private key {private} (keep it secret)\npublic key  {public}\n")
    return 0


def _render(result) -> str:  # noqa: ANN001 - a signing.Verification
    lines = []
    if result.ok:
        m = result.manifest
        lines.append(f"verified {result.model}: {m.total_files} files match, identity {m.identity}")
        lines.append(f"  signed by {result.signer}")
    else:
        lines.append(f"NOT verified {result.model}: {len(result.problems)} problem(s)")
        if result.signer:
            lines.append(f"  signature by {result.signer} is valid")
        for p in result.problems:
            lines.append(f"  {p.kind:<17} {p.message}")
            if p.expected or p.actual:
                lines.append(f"  {'':<17} expected {p.expected or '-'}, actual {p.actual or '-'}")
    lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _progress(enabled: bool) -> AbstractContextManager[_Callbacks]:
    """A byte progress bar on stderr when it is a terminal and the model is large; otherwise nothing.
    (contextlib loads here, not with the module: every command imports this module, ``assay scan`` included.)"""
    from contextlib import contextmanager

    return contextmanager(_progress_bar)(enabled)


def _progress_bar(enabled: bool) -> Iterator[_Callbacks]:
    if not enabled or not sys.stderr.isatty():
        yield None, None
        return
    import threading

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    progress = Progress("hashing", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task("hash", total=None)
    lock = threading.Lock()

    def on_total(total: int) -> None:
        progress.update(task, total=total)
        if total >= PROGRESS_MIN_BYTES:
            progress.start()

    def on_bytes(n: int) -> None:
        with lock:
            progress.advance(task, n)

    try:
        yield on_total, on_bytes
    finally:
        progress.stop()
