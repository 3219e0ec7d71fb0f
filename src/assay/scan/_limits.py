"""Every limit the scanner enforces, by name. Hitting one is a scan error (exit 2), never a hang.

Users change them in ``[tool.assay.scan._limits]`` (pyproject.toml) or ``[scan.limits]`` (assay.toml),
with the field names below (dashes or underscores).
"""

from __future__ import annotations

from assay.scan._record import Record, fields, replace

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class ScanLimits(Record):
    """Named, configurable bounds on the work and memory one scan may spend."""

    max_file_bytes: int = 1024 * GiB
    """Files larger than this are not scanned (payloads are never read, so this is generous)."""
    max_pickle_opcodes: int = 20_000_000
    """Opcodes executed symbolically in one pickle stream."""
    max_pickle_items: int = 2_000_000
    """Values kept alive on the symbolic stack, memo and containers of one pickle."""
    max_pickles_per_stream: int = 1_000
    """Pickles read back to back from one stream (several pickles in one file)."""
    max_inline_bytes: int = 16 * MiB
    """Bytes arguments kept in memory for nested-pickle analysis; larger ones are skipped unread."""
    max_line_bytes: int = 1 * MiB
    """Length of one newline-terminated pickle argument (GLOBAL, INT, STRING ...)."""
    max_archive_depth: int = 6
    """Archives (and compressed streams) nested inside each other."""
    max_members: int = 200_000
    """Members of one archive."""
    max_decompressed_bytes: int = 4 * GiB
    """Bytes decompressed from one member or compressed stream."""
    max_compression_ratio: int = 250
    """Uncompressed/compressed size above which a member is reported as a decompression bomb."""
    max_json_bytes: int = 64 * MiB
    """JSON documents read whole (configs, safetensors headers are bounded separately)."""
    max_safetensors_header_bytes: int = 100 * MiB
    """A safetensors header; the format itself caps it at 100 MB."""
    max_gguf_metadata_entries: int = 1_000_000
    """Key/value entries (and array elements) read from a GGUF header."""
    max_gguf_string_bytes: int = 64 * MiB
    """One GGUF metadata string."""
    max_protobuf_depth: int = 64
    """Nesting of ONNX subgraphs and TensorFlow functions."""
    max_protobuf_fields: int = 20_000_000
    """Protobuf fields visited in one ONNX or SavedModel file."""
    max_source_bytes: int = 16 * MiB
    """One Python source or chat template analysed."""
    max_hdf5_seconds: int = 30
    """Time the HDF5 library may take to read one file's attributes (it runs in a child process)."""
    max_files: int = 1_000_000
    """Files visited under the folders given."""
    max_template_steps: int = 200_000
    """Evaluation steps spent on one chat template (loops are re-walked until namespace values settle)."""
    max_npy_header_bytes: int = 1 * MiB
    """A ``.npy`` header (numpy.load with allow_pickle=True reads headers of any size)."""
    max_remote_code_files: int = 64
    """Python files read to summarise the code one config names (the named module and the sibling modules it
    imports, as the loader copies them)."""
    max_python_nodes: int = 4_000_000
    """Syntax-tree nodes of one Python file analysed (a 16 MiB file of ordinary code has about 2 million)."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every limit's field name."""
        return fields(cls)

    def with_values(self, values: dict[str, object]) -> ScanLimits:
        """A copy with some limits changed; names may use dashes. Raise ValueError on bad input."""
        known = set(self.names())
        changes: dict[str, int] = {}
        for raw_name, value in values.items():
            name = raw_name.replace("-", "_")
            if name not in known:
                raise ValueError(f"unknown scan limit {raw_name!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"scan limit {raw_name} must be a positive integer, got {value!r}")
            changes[name] = value
        return replace(self, **changes)


class LimitExceeded(Exception):
    """Raised inside parsers when a named limit is hit; the walker turns it into a ScanError."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit
