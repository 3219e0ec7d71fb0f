"""Content-based format detection. Magic bytes decide; a file name is only a hint for formats
that have no magic (ONNX and TensorFlow protobufs, JSON configs, Python source, chat templates).
"""

from __future__ import annotations

import posixpath
import struct

from assay.scan._pickle.opcodes import looks_like_pickle
from assay.scan._source import Blob

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
# Other configs a loader reads that can name code to import (custom pipelines, diffusers components,
# sentence-transformers modules): they are read for code references like config.json.
_BY_NAME.update(dict.fromkeys(("generation_config.json", "preprocessor_config.json", "model_index.json",
                               "adapter_config.json", "modules.json", "scheduler_config.json",
                               "video_preprocessor_config.json", "config_sentence_transformers.json"), "hf-config"))
_BY_SUFFIX = {".onnx": "onnx", ".py": "python", ".jinja": "chat-template", ".jinja2": "chat-template"}

# Extensions that promise a format that cannot run code; pickle content behind them is a disguise.
SAFE_PROMISES = {".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx", ".npy": "npy", ".json": "json",
                 ".txt": "text", ".h5": "hdf5", ".hdf5": "hdf5", ".msgpack": "msgpack",
                 ".tflite": "tflite", ".md": "text", ".jinja": "text", ".model": "sentencepiece"}


# Kinds recognised by a prefix so short that the same bytes may also be a protocol 0/1 pickle.
_WEAK_KINDS = ("zlib", "lzma-alone", "bzip2", "joblib-zfile", "tar")


def has_zip_directory(blob: Blob) -> bool:
    """True when an end-of-central-directory record sits in the last 64 KiB (a zip, wherever it starts)."""
    size = blob.size
    if size < 22:
        return False
    return blob.tail(min(size, 65_557)).rfind(ZIP_EOCD) >= 0


def _is_lzma_alone(head: bytes) -> bool:
    """An .lzma (LZMA_Alone) header liblzma accepts: joblib's prefix ``5d 00``, or any properties byte that
    decodes (lc+lp <= 4) with a dictionary size and length the auto decoder takes (2^n or 2^n+2^(n-1) or -1;
    a length below 2^38 or -1) and the range coder's leading zero byte. Decompression has the last word."""
    if head.startswith(b"\x5d\x00"):
        return True
    if len(head) < 14 or head[0] > 224 or head[13] != 0:
        return False
    lc, lp = head[0] % 9, (head[0] // 9) % 5
    (dict_size,) = struct.unpack("<I", head[1:5])
    (length,) = struct.unpack("<Q", head[5:13])
    if lc + lp > 4 or not (length == (1 << 64) - 1 or length < 1 << 38):
        return False
    if dict_size == 0xFFFFFFFF:
        return True
    d = (dict_size - 1) & 0xFFFFFFFF  # liblzma's own rounding, in uint32 arithmetic (0 wraps and passes)
    for shift in (2, 3, 4, 8, 16):
        d |= d >> shift
    return (d + 1) & 0xFFFFFFFF == dict_size


def is_tar_header(block: bytes) -> bool:
    """True when ``block`` is a first tar header Python's tarfile accepts: its checksum is right (tarfile does
    not require the ustar magic; v7 and GNU headers have none)."""
    if len(block) < 512 or block.count(0) == 512:
        return False
    field = block[148:156]
    if field[0] in (0o200, 0o377):  # base-256, as tarfile.nti reads it
        value = 0
        for byte in field[1:]:
            value = (value << 8) + byte
        chksum = value if field[0] == 0o200 else value - (256 ** 7)
    else:
        try:
            chksum = int(field.split(b"\0", 1)[0].decode("ascii").strip() or "0", 8)
        except (UnicodeDecodeError, ValueError):
            return False
    body = block[:148] + block[156:512]
    unsigned = 256 + sum(body)
    signed = 256 + sum(b - 256 if b > 127 else b for b in body)
    return chksum in (unsigned, signed)


def _compressed_kind(head: bytes) -> str | None:
    """The codec joblib.load would pick by prefix (its own order), with bz2's level digit and lz4's frame magic."""
    if head.startswith(b"ZF"):
        return "joblib-zfile"
    if head.startswith(b"\x78"):
        return "zlib"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[3:4] != b"0":
        return "bzip2"  # BZ2File reads on past an empty first stream: no block magic is required here
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if _is_lzma_alone(head):
        return "lzma-alone"
    return None


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
    elif is_tar_header(blob.read_at(0, 512)):
        found.append("tar")
    if not found and len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= blob.size - 8:
            found.append("safetensors")
    codec = _compressed_kind(head)
    if codec and (not found or found in (["tar"], ["safetensors"])):
        # Both readers are possible: a tar whose first name, or a safetensors header length (1 in 256 start
        # with 0x78), starts like a codec prefix. The codec's scanner steps back when its decompressor refuses.
        found.append(codec)
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
    if by_name and (not found or all(k in _WEAK_KINDS for k in found)):
        found.append(by_name)  # "x = 1" starts like zlib: a weak prefix must not hide a .py or a config
    weak = not found or found[0] in _WEAK_KINDS or found[0] == by_name
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
