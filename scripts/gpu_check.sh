#!/usr/bin/env bash
# The checks that need a GPU, for a lent accelerator machine (its image has torch and
# transformers): the transformers backend on CUDA through the real loading and streaming code.
set -u
export PYTHONPATH=$PWD
python3 - <<'PY'
import torch, transformers
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("transformers", transformers.__version__)
PY
python3 -m pytest -q -p no:cacheprovider tests/unit/thinking/test_lm_transformers.py -rA 2>&1 | tail -15
