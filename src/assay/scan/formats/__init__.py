"""Format scanners, one module per format; ``SCANNERS`` maps each sniff id to its scanner."""

from __future__ import annotations

from assay.scan.formats.compressed import CompressedScanner
from assay.scan.formats.gguf import GgufScanner
from assay.scan.formats.hf_config import ChatTemplateScanner, HfConfigScanner
from assay.scan.formats.interface import FormatScanner
from assay.scan.formats.keras import Hdf5Scanner
from assay.scan.formats.npy import NpyScanner
from assay.scan.formats.onnx import OnnxScanner
from assay.scan.formats.pickle_file import PickleScanner
from assay.scan.formats.python_source import PythonSourceScanner
from assay.scan.formats.safetensors import SafetensorsScanner
from assay.scan.formats.savedmodel import KerasMetadataScanner, SavedModelScanner
from assay.scan.formats.sevenzip import SevenZipScanner
from assay.scan.formats.tar import TarScanner
from assay.scan.formats.zip import ZipScanner

_ALL: list[FormatScanner] = [
    ZipScanner(), PickleScanner(), NpyScanner(), CompressedScanner(), TarScanner(), SevenZipScanner(),
    SafetensorsScanner(), GgufScanner(), OnnxScanner(), SavedModelScanner(), KerasMetadataScanner(),
    Hdf5Scanner(), HfConfigScanner(), ChatTemplateScanner(), PythonSourceScanner(),
]

SCANNERS: dict[str, FormatScanner] = {fmt: scanner for scanner in _ALL for fmt in scanner.formats}

__all__ = ["SCANNERS", "FormatScanner"]
