"""Keras models: the v3 ``.keras`` zip's ``config.json``, H5 files' ``model_config`` attribute, and
SavedModel ``keras_metadata.pb`` layer configs.

What runs at load time: Lambda layers carry marshalled bytecode; any ``module``/``class_name`` pair
is imported and called (the safe_mode bypass class, CVE-2025-1550); and some Keras-internal
functions are gadgets themselves (``keras.utils.get_file``, ``enable_unsafe_deserialization``).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from assay.scan._context import ScanContext
from assay.scan._findings import Severity
from assay.scan._formats.interface import FormatScanner
from assay.scan._pickle.verdict import classify
from assay.scan._source import Blob

KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "keras_hub", "keras_nlp", "keras_cv")
KERAS_GADGETS = {"get_file": "downloads files and overwrites local ones", "enable_unsafe_deserialization":
                 "turns safe_mode off for everything loaded after it", "load_model": "loads a second model without "
                 "safe_mode", "set_global_attribute": "changes Keras global state (safe_mode)", "TFSMLayer":
                 "loads an external SavedModel", "load_weights": "reads files named in the config"}


def _is_keras(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in KERAS_MODULES)


def _walk(node: object, ctx: ScanContext, offset: int | None, depth: int = 0) -> None:
    if depth > 200:
        ctx.add("AS403", Severity.MEDIUM, "Keras config nested too deeply", offset)
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, ctx, offset, depth + 1)
        return
    if not isinstance(node, dict):
        return
    class_name = node.get("class_name")
    config = node.get("config")
    module = node.get("module")
    if class_name == "Lambda" and isinstance(config, dict):
        function = config.get("function")
        if isinstance(function, (list, str)) or (isinstance(function, dict) and function.get("class_name") == "__lambda__"):
            name = config.get("name", "?")
            ctx.add("AS401", Severity.CRITICAL, f"Lambda layer {name!r} carries serialized Python bytecode", offset,
                    "keras deserializes it with marshal and runs it (always in Keras 2 H5 files, with safe_mode off in Keras 3)")
    if class_name == "__lambda__":
        ctx.add("AS401", Severity.CRITICAL, "serialized Python lambda (marshalled bytecode) in the config", offset)
    if isinstance(module, str) and isinstance(class_name, str):
        target = config if class_name == "function" and isinstance(config, str) else class_name
        if not _is_keras(module):
            verdict = classify(module, str(target)) if module and str(target) else None
            severity = verdict.severity if verdict and verdict.kind == "dangerous" and verdict.severity else \
                (Severity.HIGH if class_name == "function" else Severity.MEDIUM)
            ctx.add("AS402", severity, f"config imports {module}.{target} (outside Keras)", offset,
                    verdict.reason if verdict and verdict.kind == "dangerous" else
                    "Keras imports and calls it while loading; custom objects need review")
        elif str(target) in KERAS_GADGETS:
            ctx.add("AS402", Severity.HIGH, f"config calls {module}.{target}: {KERAS_GADGETS[str(target)]}", offset)
    for key, value in node.items():
        if key != "function" or not isinstance(value, (list, str)):
            _walk(value, ctx, offset, depth + 1)


def check_keras_json(text: str, ctx: ScanContext, offset: int | None = None) -> None:
    """Analyse one Keras JSON document (model config or layer metadata)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        ctx.add("AS403", Severity.MEDIUM, f"Keras config is not valid JSON: {exc}", offset)
        return
    _walk(doc, ctx, offset)


def scan_keras_config(blob: Blob, ctx: ScanContext) -> None:
    """``config.json`` of a ``.keras`` archive."""
    text = ctx.read_whole(blob, "max_json_bytes", "Keras config")
    if text is not None:
        check_keras_json(text, ctx, 0)


class Hdf5Scanner(FormatScanner):
    """HDF5 files; Keras H5 models keep their architecture in the root attribute ``model_config``.

    Read in a child process (see ``hdf5_probe``) that is killed after ``max_hdf5_seconds``.
    """

    formats = ("hdf5",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        if ctx.member is not None and ctx.member.endswith("model.weights.h5"):
            return True  # Keras v3 weights: the loader reads no config from it
        with _on_disk(blob, ctx) as path:
            result = _probe(path, ctx)
        if result is None:
            return True
        if "error" in result:
            ctx.add("AS403", Severity.MEDIUM, f"HDF5 file cannot be read: {result['error']}")
            return True
        for attr in ("model_config", "training_config"):
            text = result["attrs"].get(attr)
            if text:
                ctx.format("keras-h5")
                check_keras_json(text, ctx)
        return True


@contextlib.contextmanager
def _on_disk(blob: Blob, ctx: ScanContext) -> Iterator[str]:
    """A path for the child: the file itself, or a temporary copy of an archive member."""
    path = getattr(blob, "path", None)
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".h5") as tmp:
        offset = 0
        while offset < blob.size:
            chunk = blob.read_at(offset, 1 << 22)
            if not chunk:
                break
            tmp.write(chunk)
            offset += len(chunk)
        tmp.flush()
        yield tmp.name


def _probe(path: str, ctx: ScanContext) -> dict | None:
    limit = ctx.limits.max_hdf5_seconds
    cmd = [sys.executable, "-m", "assay.scan._formats.hdf5_probe", path, str(ctx.limits.max_json_bytes)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        ctx.error(f"the HDF5 library did not finish reading this file within max_hdf5_seconds={limit} "
                  "(a corrupted or hostile file)", "max_hdf5_seconds")
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {"error": f"the HDF5 reader crashed (exit {proc.returncode})"}
