"""Child process that reads an HDF5 file's root attributes with h5py and prints them as JSON.

libhdf5 is native code parsing hostile input; fuzzing showed it can hang on a corrupted attribute,
where no Python timeout can reach it. The scanner therefore runs this in a child process that it
can kill (``max_hdf5_seconds``).
"""

from __future__ import annotations

import json
import sys

ATTRS = ("model_config", "training_config", "keras_version", "backend")


def main(path: str, max_bytes: int) -> None:
    """Print ``{"attrs": {...}}`` or ``{"error": "..."}`` for the file at ``path``."""
    try:
        import h5py

        out: dict[str, str] = {}
        with h5py.File(path, "r") as handle:
            for name in ATTRS:
                if name in handle.attrs:
                    value = handle.attrs[name]
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    out[name] = text[:max_bytes]
        json.dump({"attrs": out}, sys.stdout)
    except ImportError:
        json.dump({"error": "h5py is not installed"}, sys.stdout)
    except Exception as exc:  # libhdf5 raises many types for corrupt input
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
