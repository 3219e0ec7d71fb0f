"""Format scanners, one module per format. ``scanner_for`` imports a scanner on first use, so a scan
of safetensors files never loads the pickle machine, and the CLI starts fast."""

from __future__ import annotations

import importlib

from assay.scan._formats.interface import FormatScanner

# sniff id -> "module:Class" under assay.scan._formats
_REGISTRY: dict[str, str] = {
    "zip": "zip:ZipScanner",
    "pickle": "pickle_file:PickleScanner", "pickle?": "pickle_file:PickleScanner",
    "npy": "npy:NpyScanner",
    **{k: "compressed:CompressedScanner" for k in ("gzip", "bzip2", "xz", "lz4", "zlib", "lzma-alone", "joblib-zfile")},
    "tar": "tar:TarScanner",
    "7z": "sevenzip:SevenZipScanner",
    "safetensors": "safetensors:SafetensorsScanner",
    "gguf": "gguf:GgufScanner",
    "onnx": "onnx:OnnxScanner",
    "tf-savedmodel": "savedmodel:SavedModelScanner",
    "tf-keras-metadata": "savedmodel:KerasMetadataScanner",
    "hdf5": "keras:Hdf5Scanner",
    **{k: "hf_config:HfConfigScanner" for k in ("hf-config", "hf-tokenizer-config", "chat-template-json")},
    "chat-template": "hf_config:ChatTemplateScanner",
    "python": "python_source:PythonSourceScanner",
}
_LOADED: dict[str, FormatScanner] = {}


def scanner_for(kind: str) -> FormatScanner | None:
    """The scanner for a sniff id, or None for an unknown id."""
    target = _REGISTRY.get(kind)
    if target is None:
        return None
    scanner = _LOADED.get(target)
    if scanner is None:
        module, cls = target.split(":")
        scanner = _LOADED[target] = getattr(importlib.import_module(f"assay.scan._formats.{module}"), cls)()
    return scanner


def known_formats() -> tuple[str, ...]:
    """Every sniff id a scanner exists for."""
    return tuple(_REGISTRY)


__all__ = ["FormatScanner", "scanner_for", "known_formats"]
