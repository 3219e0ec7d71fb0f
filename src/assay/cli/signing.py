"""``assay hash``, ``assay sign``, ``assay verify``, ``assay keygen``: OMS v1.0 model signatures."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from assay.errors import UsageError

PROGRESS_MIN_BYTES = 256 * 1024 * 1024
"""Models smaller than this hash too fast for a progress bar to help."""


class HashType(enum.StrEnum):
    """Digest algorithms for resources."""

    sha256 = "sha256"
    blake3 = "blake3"
    blake2b = "blake2b"


class TextOrJson(enum.StrEnum):
    """Output formats."""

    text = "text"
    json = "json"


class Curve(enum.StrEnum):
    """EC curves for keygen."""

    p256 = "p256"
    p384 = "p384"
    p521 = "p521"


def register(app: typer.Typer) -> None:
    """Add hash, sign, verify and keygen to ``app``."""
    app.command("hash", help="Print a model's OMS manifest and its identity (the root digest).")(hash_command)
    app.command("sign", help="Sign a model folder into an OpenSSF Model Signing bundle (EC key or certificate).")(
        sign_command)
    app.command("verify", help="Verify a model folder against its signature bundle. "
                "Exit codes: 0 verified, 1 verified false, 2 could not verify.")(verify_command)
    app.command("keygen", help="Write an EC key pair: OUT_PREFIX.pem (private, 0600) and OUT_PREFIX.pub.pem.")(
        keygen_command)


_IGNORE = typer.Option([], "--ignore", help="Leave PATH (a file or folder, relative to the current directory "
                       "or the model) out of the manifest; repeatable.")
_SYMLINKS = typer.Option(False, "--allow-symlinks", help="Follow symbolic links instead of refusing them.")
_NO_GIT = typer.Option(False, "--no-ignore-git", help="Hash .git, .gitattributes, .github and .gitignore too.")
_SHARD = typer.Option(None, "--shard-size", min=1, help="Hash files in shards of N bytes (the 'shards' method).")
_HASH = typer.Option(HashType.sha256, "--hash", help="Digest algorithm.")
_WORKERS = typer.Option(None, "--workers", min=1, help="Hashing threads [default: one per core].")


def hash_command(
    model: Path = typer.Argument(..., help="Model folder (or single file)."),
    shard_size: int | None = _SHARD,
    hash_type: HashType = _HASH,
    ignore: list[Path] = _IGNORE,
    allow_symlinks: bool = _SYMLINKS,
    no_ignore_git: bool = _NO_GIT,
    workers: int | None = _WORKERS,
    output_format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Output format."),
) -> None:
    """Hash MODEL and print its manifest."""
    from assay.manifest import hash_model

    with _progress(output_format == TextOrJson.text) as (on_total, on_bytes):
        manifest = hash_model(model, hash_type=hash_type.value, shard_size=shard_size, ignore=ignore,
                              ignore_git=not no_ignore_git, allow_symlinks=allow_symlinks, workers=workers,
                              on_bytes=on_bytes, on_total=on_total)
    if output_format == TextOrJson.json:
        sys.stdout.write(json.dumps(manifest.to_json(), indent=2) + "\n")
        return
    s = manifest.serialization
    method = f"{s.method} ({s.hash_type}" + (f", shard size {s.shard_size}" if s.shard_size else "") + ")"
    lines = [f"model      {manifest.model_name}", f"identity   {manifest.identity}",
             f"method     {method}, {manifest.total_files} files, {len(manifest.resources)} digests",
             f"ignored    {', '.join(s.ignore_paths) or '-'}", ""]
    lines += [f"{r.hex}  {r.name}" for r in manifest.resources]
    sys.stdout.write("\n".join(lines) + "\n")


def sign_command(
    model: Path = typer.Argument(..., help="Model folder (or single file)."),
    key: Path = typer.Option(..., "--key", help="EC private key (PEM; P-256, P-384 or P-521). An encrypted key "
                             "reads its password from ASSAY_KEY_PASSWORD."),
    cert_chain: Path | None = typer.Option(None, "--cert-chain", help="Certificate chain (PEM), signing "
                                           "certificate first: sign with the certificate method."),
    signature: Path | None = typer.Option(None, "--signature", help="Where to write the bundle "
                                          "[default: MODEL/model.sig]."),
    shard_size: int | None = _SHARD,
    hash_type: HashType = _HASH,
    ignore: list[Path] = _IGNORE,
    allow_symlinks: bool = _SYMLINKS,
    no_ignore_git: bool = _NO_GIT,
    workers: int | None = _WORKERS,
    output_format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Output format."),
) -> None:
    """Sign MODEL with KEY (and optionally a certificate chain)."""
    from assay.signing import sign_model
    from assay.signing.methods import signer_for

    signer = signer_for(key, cert_chain)
    with _progress(output_format == TextOrJson.text) as (on_total, on_bytes):
        manifest, written = sign_model(model, signer, signature=signature, hash_type=hash_type.value,
                                       shard_size=shard_size, ignore=ignore, ignore_git=not no_ignore_git,
                                       allow_symlinks=allow_symlinks, workers=workers, on_bytes=on_bytes,
                                       on_total=on_total)
    if output_format == TextOrJson.json:
        out = {"schema": "assay.sign/1.0", "model": str(model), "signature": str(written),
               "identity": manifest.identity, "files": manifest.total_files,
               "method": "certificate" if cert_chain else "key"}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        sys.stdout.write(f"signed {model}: {manifest.total_files} files, identity {manifest.identity}\n"
                         f"signature written to {written}\n")


def verify_command(
    model: Path = typer.Argument(..., help="Model folder (or single file)."),
    public_key: Path | None = typer.Option(None, "--public-key", help="Verify a key-method signature with this "
                                           "EC public key (PEM)."),
    cert_chain: Path | None = typer.Option(None, "--cert-chain", help="Verify a certificate-method signature "
                                           "against these trusted CA certificates (PEM)."),
    sigstore: bool = typer.Option(False, "--sigstore", help="Verify a Sigstore keyless signature, offline."),
    identity: str | None = typer.Option(None, "--identity", help="With --sigstore: the signer identity expected "
                                        "in the certificate (email or URI)."),
    issuer: str | None = typer.Option(None, "--issuer", help="With --sigstore: the OIDC issuer expected."),
    trust_root: Path | None = typer.Option(None, "--trust-root", help="With --sigstore: the Sigstore trusted root "
                                           "(JSON) [default: the public-good root shipped with sigstore]."),
    signature: Path | None = typer.Option(None, "--signature", help="The bundle [default: MODEL/model.sig]."),
    ignore: list[Path] = _IGNORE,
    allow_unsigned_files: bool = typer.Option(False, "--allow-unsigned-files", help="Do not fail on files the "
                                              "signature does not list."),
    workers: int | None = _WORKERS,
    output_format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Output format."),
) -> None:
    """Verify MODEL's signature and every file's digest."""
    from assay.signing import verify_model

    from assay.signing.methods import verifier_for

    verifier = verifier_for(public_key=public_key, cert_chain=cert_chain, sigstore=sigstore,
                            sigstore_identity=identity, sigstore_issuer=issuer, trust_root=trust_root,
                            labels=("--public-key", "--cert-chain", "--sigstore"))
    with _progress(output_format == TextOrJson.text) as (on_total, on_bytes):
        result = verify_model(model, verifier, signature=signature, ignore=ignore,
                              allow_unsigned_files=allow_unsigned_files, workers=workers, on_bytes=on_bytes,
                              on_total=on_total)
    if output_format == TextOrJson.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(_render(result))
    raise typer.Exit(result.exit_code)


def keygen_command(
    out_prefix: Path = typer.Argument(..., help="Writes OUT_PREFIX.pem and OUT_PREFIX.pub.pem."),
    curve: Curve = typer.Option(Curve.p256, "--curve", help="Elliptic curve."),
) -> None:
    """Generate an EC key pair for ``assay sign --key``."""
    from assay.signing.keys import keygen

    private, public = keygen(out_prefix, curve.value)
    sys.stdout.write(f"private key {private} (keep it secret)\npublic key  {public}\n")


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


@contextmanager
def _progress(enabled: bool) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """A byte progress bar on stderr when it is a terminal and the model is large; otherwise nothing."""
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
