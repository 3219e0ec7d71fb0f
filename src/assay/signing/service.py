"""Sign a model folder into an OMS bundle, and verify a folder against one."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from assay.errors import InputError
from assay.manifest import (
    GIT_IGNORES,
    SIGNATURE_NAME,
    Manifest,
    Serialization,
    compute_manifest,
    hash_model,
    relative_ignores,
    same_algorithm,
    shard_path,
)
from assay.signing._bundle import MAX_BUNDLE_BYTES, build_bundle, parse_bundle
from assay.signing._dsse import PAYLOAD_TYPE, pae
from assay.signing._interface import BundleError, Problem, SignatureInvalid, Signer, Verification, Verifier
from assay.signing._statement import PREDICATE_TYPE, build_statement, parse_statement


def default_signature_path(model_path: Path) -> Path:
    """``MODEL/model.sig`` for a folder, ``model.sig`` beside a single file."""
    return model_path / SIGNATURE_NAME if model_path.is_dir() else model_path.parent / SIGNATURE_NAME


def _signature_ignores(model_path: Path, signature: Path) -> list[str]:
    """The signature file, relative to the model, when it lies inside it: never hashed into its own manifest."""
    return relative_ignores(model_path, [signature.absolute()]) if model_path.is_dir() else []


def sign_model(model_path: str | os.PathLike[str], signer: Signer, *, signature: str | os.PathLike[str] | None = None,
               hash_type: str = "sha256", shard_size: int | None = None,
               ignore: Iterable[str | os.PathLike[str]] = (), ignore_git: bool = True, allow_symlinks: bool = False,
               workers: int | None = None, on_bytes: Callable[[int], None] | None = None,
               on_total: Callable[[int], None] | None = None) -> tuple[Manifest, Path]:
    """Hash the model, sign the OMS statement, write the bundle; return the manifest and where it went."""
    path = Path(model_path)
    sig_path = Path(signature) if signature else default_signature_path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    ignores = list(ignore) + _signature_ignores(path, sig_path)
    manifest = hash_model(path, hash_type=hash_type, shard_size=shard_size, ignore=ignores, ignore_git=ignore_git,
                          allow_symlinks=allow_symlinks, workers=workers, on_bytes=on_bytes, on_total=on_total)
    statement = build_statement(manifest)
    bundle = build_bundle(statement, signer.sign(pae(statement)), signer.verification_material())
    tmp = sig_path.with_name(sig_path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, sig_path)
    except OSError as exc:
        raise InputError(f"cannot write {sig_path}: {exc.strerror}") from None
    return manifest, sig_path


def verify_model(model_path: str | os.PathLike[str], verifier: Verifier, *,
                 signature: str | os.PathLike[str] | None = None, ignore: Iterable[str | os.PathLike[str]] = (),
                 allow_unsigned_files: bool = False, workers: int | None = None,
                 on_bytes: Callable[[int], None] | None = None,
                 on_total: Callable[[int], None] | None = None) -> Verification:
    """Check the bundle's signature with ``verifier``, then hash the model as the bundle says and compare.

    Returns a Verification (``ok`` or the problems found); raises AssayError when verification cannot
    be attempted (missing model or signature, malformed bundle, unreadable key).
    """
    path = Path(model_path)
    sig_path = Path(signature) if signature else default_signature_path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    from assay._files import read_bounded

    bundle = parse_bundle(read_bounded(sig_path, MAX_BUNDLE_BYTES, "max_bundle_bytes", "signature"))

    def result(signer: str, problems: list[Problem], manifest: Manifest | None = None,
               warnings: Iterable[str] = ()) -> Verification:
        return Verification(str(path), str(sig_path), verifier.method, signer, tuple(problems), manifest,
                            tuple(warnings))

    if bundle.payload_type != PAYLOAD_TYPE:
        return result("", [Problem("wrong-predicate", f"payload type is {bundle.payload_type!r}, "
                                   f"not {PAYLOAD_TYPE!r}: this is not an in-toto statement")])
    # The statement is read before its signature is trusted only to name every fault at once
    # (a wrong predicate type and a bad signature); nothing from it is used unless the signature holds.
    try:
        statement, statement_error = parse_statement(bundle.payload), None
    except BundleError as exc:
        statement, statement_error = None, exc
    signer, warnings = "", list[str]()
    failure: SignatureInvalid | None = None
    for raw in bundle.signatures:
        try:
            signer, warnings = verifier.verify(bundle.document, bundle.payload, raw)
            failure = None
            break
        except SignatureInvalid as exc:
            failure = failure or exc
    problems = [Problem(failure.kind, str(failure) + "; files were not checked")] if failure else []
    if statement_error is not None:
        if not problems:
            raise statement_error
        problems.append(Problem("malformed-statement", str(statement_error)))
    if statement is not None and statement.manifest is None:
        problems.append(Problem("wrong-predicate", f"predicate type is {statement.predicate_type!r}, not "
                                f"{PREDICATE_TYPE!r}: this signature is not an OMS model signature"))
    if problems or statement is None or statement.manifest is None:
        return result(signer, problems)
    expected = statement.manifest
    if statement.subject_digest is not None and expected.root_digest.hex() != statement.subject_digest:
        return result(signer, [Problem("inconsistent-manifest", "the signed subject digest does not match the "
                                       "signed resources", expected=statement.subject_digest,
                                       actual=expected.root_digest.hex())], expected, warnings)
    if statement.layout != "v1.0":
        warnings.append(f"signature layout {statement.layout}; re-sign to use OMS v1.0")
    serialization = expected.serialization
    extra = relative_ignores(path, list(ignore)) if path.is_dir() else []
    extra += _signature_ignores(path, sig_path)
    ignores = tuple(sorted(set(serialization.ignore_paths) | set(extra) | set(GIT_IGNORES)))
    actual_serialization = Serialization(serialization.method, serialization.hash_type, serialization.allow_symlinks,
                                         serialization.shard_size, ignores)
    only = None
    if allow_unsigned_files:
        only = {shard_path(r.name) if serialization.method == "shards" else r.name for r in expected.resources}
    actual = compute_manifest(path, actual_serialization, name=expected.model_name, only=only, workers=workers,
                              on_bytes=on_bytes, on_total=on_total)
    return result(signer, compare(expected, actual), expected, warnings)


def compare(expected: Manifest, actual: Manifest) -> list[Problem]:
    """Every difference between what was signed and what is on disk, named."""
    want, have = expected.by_name(), actual.by_name()
    problems = []
    for name in sorted(want.keys() - have.keys()):
        problems.append(Problem("missing", f"{name}: signed but not found", resource=name,
                                expected=f"{want[name].algorithm}:{want[name].hex}"))
    for name in sorted(have.keys() - want.keys()):
        problems.append(Problem("extra", f"{name}: present but not signed (use --ignore or "
                                "--allow-unsigned-files if that is intended)", resource=name,
                                actual=f"{have[name].algorithm}:{have[name].hex}"))
    for name in sorted(want.keys() & have.keys()):
        w, h = want[name], have[name]
        if w.digest != h.digest or not same_algorithm(w.algorithm, h.algorithm):
            problems.append(Problem("modified", f"{name}: content changed", resource=name,
                                    expected=f"{w.algorithm}:{w.hex}", actual=f"{h.algorithm}:{h.hex}"))
    return problems
