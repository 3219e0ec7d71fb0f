"""Keras models: the v3 ``.keras`` zip's ``config.json``, H5 files' ``model_config`` attribute, and
SavedModel ``keras_metadata.pb`` layer configs.

What runs at load time: Lambda layers carry marshalled bytecode; any ``module``/``class_name`` pair
is imported and called (the safe_mode bypass class, CVE-2025-1550); and some Keras-internal
functions are gadgets themselves (``keras.utils.get_file``, ``enable_unsafe_deserialization``).
"""

from __future__ import annotations

import json

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.formats.interface import FormatScanner
from assay.scan.pickle.verdict import classify
from assay.scan.source import Blob, BlobIO

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
    if blob.size > ctx.limits.max_json_bytes:
        ctx.error("Keras config larger than max_json_bytes", "max_json_bytes")
        return
    check_keras_json(blob.read_at(0, blob.size).decode("utf-8", "replace"), ctx, 0)


class Hdf5Scanner(FormatScanner):
    """HDF5 files; Keras H5 models keep their architecture in the root attribute ``model_config``."""

    formats = ("hdf5",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        try:
            import h5py  # imported only when an HDF5 file is met
        except ImportError:
            ctx.error("HDF5 file not scanned: install h5py")
            return True
        try:
            with h5py.File(BlobIO(blob), "r") as handle:  # type: ignore[arg-type]
                for attr in ("model_config", "training_config"):
                    if attr in handle.attrs:
                        value = handle.attrs[attr]
                        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                        if len(text) > ctx.limits.max_json_bytes:
                            ctx.error(f"{attr} larger than max_json_bytes", "max_json_bytes")
                            continue
                        ctx.format("keras-h5")
                        check_keras_json(text, ctx)
        except Exception as exc:  # h5py/libhdf5 raise many types for corrupt input
            ctx.add("AS403", Severity.MEDIUM, f"HDF5 file cannot be read: {type(exc).__name__}: {exc}")
        return True
