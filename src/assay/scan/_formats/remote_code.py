"""Code that a loader imports because a config names it (transformers' ``trust_remote_code``, diffusers custom
pipelines and components, sentence-transformers custom modules).

The whole JSON document is walked, not one key: ``auto_map`` (``"module.Class"``, ``"repo--module.Class"``,
lists with None), ``custom_pipelines`` entries (``impl``), diffusers ``model_index.json`` components
(``["library_or_file", "Class"]`` where the library is not one diffusers knows), dotted ``tokenizer_class``-like
values, and any string that names a ``.py`` file or a ``module.Class`` shipped beside the config. Importing
that code runs it, so each reference is high, with what the code calls (from ``python_source``).
"""

from __future__ import annotations

import re

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._record import Record

# Keys whose string value transformers and friends resolve as "module.Class" when it has a dot.
_CLASS_KEYS = {"tokenizer_class", "processor_class", "feature_extractor_type", "image_processor_type",
               "video_processor_type", "_class_name", "type"}
# Libraries diffusers loads components from without reading the repository's own code.
_KNOWN_LIBRARIES = {"diffusers", "transformers", "onnxruntime.training"}
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_REMOTE = re.compile(r"[\w.-]+/[\w.-]+--[A-Za-z_][\w.]*")
_ROOTS_NOT_CODE = {"transformers", "torch", "sentence_transformers", "diffusers", "numpy", "tokenizers"}
_MAX_WALK = 1_000_000  # JSON values visited (the document itself is bounded by max_json_bytes)


class CodeRef(Record):
    """One reference to code: where in the document, as written, the files it may be, another repository."""

    key: str
    reference: str
    files: tuple[str, ...]
    remote: str | None
    explicit: bool
    """True when the key itself means code (auto_map ...); False for a string that merely names a shipped file."""


def _module_files(module: str) -> tuple[str, ...]:
    path = module.replace(".", "/")
    return (f"{path}.py",) if path == module else (f"{path}.py", f"{module}.py")


def class_reference(key: str, reference: str, explicit: bool = True) -> CodeRef | None:
    """A ``[repo--]module.Class`` reference as transformers' dynamic-module loader reads it."""
    remote = None
    if "--" in reference:
        remote, _, reference = reference.partition("--")
    module, dot, _ = reference.rpartition(".")
    if not dot or not module:
        return None
    return CodeRef(key, reference if remote is None else f"{remote}--{reference}", _module_files(module), remote,
                   explicit)


def _component(key: str, value: list[object]) -> CodeRef | None:
    """A diffusers ``[library, Class]`` entry; a library diffusers does not know is a file in the repository."""
    if len(value) != 2 or not all(isinstance(v, str) for v in value):
        return None
    library, cls = value
    if library in _KNOWN_LIBRARIES:  # type: ignore[operator]
        return None
    folder = "" if key == "_class_name" else f"{key}/"
    return CodeRef(key, f"{library}.{cls}", (f"{folder}{library}.py", f"{library}.py"), None, True)


def _string_ref(key: str, value: str) -> CodeRef | None:
    """A string value: a dotted class key, a ``.py`` path, ``repo--module.Class``, or a dotted name."""
    if _REMOTE.fullmatch(value):
        return class_reference(key, value)
    if value.endswith(".py") and len(value) < 512:
        return CodeRef(key, value, (value.lstrip("./"),), None, False)
    if _DOTTED.fullmatch(value) and len(value) < 512:
        explicit = key.rsplit(".", 1)[-1] in _CLASS_KEYS and value.split(".")[0] not in _ROOTS_NOT_CODE
        return class_reference(key, value, explicit)
    return None


def find_code_refs(doc: object) -> list[CodeRef]:
    """Every reference to code in a parsed JSON document (walked iteratively, whole)."""
    refs: list[CodeRef] = []
    stack: list[tuple[str, object, bool]] = [("", doc, False)]
    visited = 0
    while stack and visited < _MAX_WALK:
        key, value, code_context = stack.pop()
        visited += 1
        last = key.rsplit(".", 1)[-1]
        if isinstance(value, dict):
            diffusers = "_class_name" in value or "_diffusers_version" in value
            for k, v in value.items():
                child = f"{key}.{k}" if key else str(k)
                if diffusers and isinstance(v, list) and (ref := _component(str(k), v)) is not None:
                    refs.append(ref)
                    continue
                stack.append((child, v, code_context or k in ("auto_map", "impl")))
        elif isinstance(value, list):
            stack.extend((key, v, code_context) for v in value)
        elif isinstance(value, str):
            ref = class_reference(key, value) if code_context else _string_ref(key, value)
            if ref is None and code_context and last not in ("pt", "tf"):
                ref = CodeRef(key, value, _module_files(value), None, True)  # a bare module name
            if ref is not None:
                refs.append(ref)
    return refs


def local_root(ctx: ScanContext) -> str | None:
    """The folder of a config read straight from disk (code beside it can be read); None inside archives."""
    return ctx.real_dir if ctx.member is None and ctx.real_dir is not None else None


def report_code_refs(refs: list[CodeRef], ctx: ScanContext, declaration: str = "") -> None:
    """AS454 (high, or critical when the code starts processes or runs code) per code file or repository."""
    from assay.scan._formats.remote_summary import existing_file, summarise  # only when code is named

    root = local_root(ctx)
    by_target: dict[str, list[CodeRef]] = {}
    for ref in refs:
        found = existing_file(root, ref.files) if root is not None else None
        if not ref.explicit and found is None:
            continue  # a dotted string that is no file here is data (a version, a dtype, a class name)
        target = f"repository {ref.remote}" if ref.remote else (found or ref.files[0])
        by_target.setdefault(target, []).append(ref)
    for target, items in sorted(by_target.items()):
        keys = ", ".join(sorted({f"{r.key}={r.reference}" for r in items})[:4])
        if items[0].remote:
            ctx.add("AS454", Severity.HIGH, f"{keys}: code from another {target}; loading with trust_remote_code "
                    "downloads and runs it (not scanned here)")
            continue
        severity, summary, detail = summarise(root, target, ctx)
        ctx.add("AS454", max(Severity.HIGH, severity), f"{keys}: loading imports {target}, which runs its code; "
                f"{summary}", detail=detail)
