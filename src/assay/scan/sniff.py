"""Content-based format detection. Magic bytes decide; a file name is only a hint for formats
that have no magic (ONNX and TensorFlow protobufs, JSON configs, Python source, chat templates).
"""

from __future__ import annotations

import posixpath
import struct

from assay.scan.pickle.opcodes import looks_like_pickle
from assay.scan.source import Blob

ZIP_LOCAL = b"PK\x03\x04"
ZIP_EOCD = b"PK\x05\x06"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
SEVEN_Z = b"7z\xbc\xaf\x27\x1c"

# Names (or suffixes) whose format is known only by name.
_BY_NAME = {
    "saved_model.pb": "tf-savedmodel", "keras_metadata.pb": "tf-keras-metadata",
    "config.json": "hf-config", "tokenizer_config.json": "hf-tokenizer-config",
    "chat_template.json": "chat-template-json", "processor_config.json": "hf-tokenizer-config",
}
_BY_SUFFIX = {".onnx": "onnx", ".py": "python", ".jinja": "chat-template", ".jinja2": "chat-template"}

# Extensions that promise a format that cannot run code; pickle content behind them is a disguise.
SAFE_PROMISES = {".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx", ".npy": "npy", ".json": "json",
                 ".txt": "text", ".h5": "hdf5", ".hdf5": "hdf5", ".msgpack": "msgpack",
                 ".tflite": "tflite", ".md": "text", ".jinja": "text", ".model": "sentencepiece"}


def has_zip_directory(blob: Blob) -> bool:
    """True when an end-of-central-directory record sits in the last 64 KiB (a zip, wherever it starts)."""
    size = blob.size
    if size < 22:
        return False
    return blob.tail(min(size, 65_557)).rfind(ZIP_EOCD) >= 0


def _is_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0 and head[1] in (0x01, 0x5E, 0x9C, 0xDA)


def _is_lzma_alone(head: bytes) -> bool:
    """The .lzma (LZMA_Alone) header joblib writes: props 0x5D, a dictionary size, a length or -1."""
    if len(head) < 13 or head[0] != 0x5D:
        return False
    (dict_size,) = struct.unpack("<I", head[1:5])
    (length,) = struct.unpack("<Q", head[5:13])
    return 1 << 12 <= dict_size <= 1 << 30 and (length == (1 << 64) - 1 or length < 1 << 48)


def sniff(blob: Blob, name: str) -> list[str]:
    """Formats ``blob`` holds, strongest first. ``name`` (a path or member name) is only a hint."""
    head = blob.head(64)
    base = posixpath.basename(name.replace("\\", "/")).lower()
    found: list[str] = []
    if head.startswith(ZIP_LOCAL) or head.startswith(ZIP_EOCD):
        found.append("zip")
    elif head.startswith(b"\x93NUMPY"):
        found.append("npy")
    elif head.startswith(b"GGUF"):
        found.append("gguf")
    elif head.startswith(HDF5_MAGIC) or blob.read_at(512, 8) == HDF5_MAGIC:
        found.append("hdf5")
    elif head.startswith(SEVEN_Z):
        found.append("7z")
    elif head.startswith(b"\x1f\x8b"):
        found.append("gzip")
    elif head.startswith(b"BZh") and head[4:10] == b"\x31\x41\x59\x26\x53\x59":
        found.append("bzip2")
    elif head.startswith(b"\xfd7zXZ\x00"):
        found.append("xz")
    elif head.startswith(b"\x04\x22\x4d\x18"):
        found.append("lz4")
    elif head.startswith(b"ZF0x"):
        found.append("joblib-zfile")
    elif blob.read_at(257, 5) == b"ustar":
        found.append("tar")
    if not found and len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= blob.size - 8:
            found.append("safetensors")
    if not found and _is_zlib(head):
        found.append("zlib")
    if not found and _is_lzma_alone(head):
        found.append("lzma-alone")
    if not found and len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        found.append("pickle")
    # A zip directory at the end behind a non-container head: a polyglot (or a self-extracting prefix).
    # Containers (tar, 7z, compressed streams) legitimately end with a zip member's directory.
    if (not found or found == ["pickle"] or found == ["safetensors"]) and blob.size >= 22 and has_zip_directory(blob):
        found.append("zip")
    by_name = _BY_NAME.get(base)
    if by_name is None:
        for suffix, fmt in _BY_SUFFIX.items():
            if base.endswith(suffix):
                by_name = fmt
    if by_name and not found:
        found.append(by_name)
    weak = not found or found[0] in ("zlib", "lzma-alone") or found[0] == by_name
    if weak and "pickle" not in found and looks_like_pickle(head):
        found.append("pickle?")  # a protocol 0/1 pickle has no magic; it may hide behind any name
    return found


def promised_format(name: str) -> str | None:
    """The safe format a file name promises (``model.safetensors`` -> ``safetensors``), if any."""
    base = posixpath.basename(name.replace("\\", "/")).lower()
    for suffix, fmt in SAFE_PROMISES.items():
        if base.endswith(suffix):
            return fmt
    return None
