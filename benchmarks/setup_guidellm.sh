#!/usr/bin/env bash
# Build a virtual environment with GuideLLM for benchmarks/bench_client.py --guidellm-venv.
#
#   benchmarks/setup_guidellm.sh [VENV_DIR]      (default: /tmp/guidellm-venv)
#
# GuideLLM pulls torch; pin the CPU build (torch==2.13.0, found through PIP_FIND_LINKS or the
# PyTorch CPU index) so pip never downloads a multi-GB CUDA torch. GuideLLM's synthetic data
# needs a tokenizer and the hub is unreachable, so a tiny byte-level BPE tokenizer is trained
# offline on Python's own standard-library sources into VENV_DIR/tiny-tokenizer.
set -euo pipefail

VENV="${1:-/tmp/guidellm-venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
# bench_client.py drives GuideLLM 0.8's CLI and reads its JSON, and its 20x threshold was measured
# against 0.8.1: pin it so a new release cannot change either behind the figures.
GUIDELLM_SPEC="${GUIDELLM_SPEC:-guidellm==0.8.1}"

if [ ! -x "$VENV/bin/guidellm" ]; then
    "$PYTHON" -m venv "$VENV"
    # --prefer-binary: never build from source; the CPU torch wheel comes from PIP_FIND_LINKS
    # (/opt/wheels here) or set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
    "$VENV/bin/pip" install --prefer-binary "$TORCH_SPEC" "$GUIDELLM_SPEC"
fi

if "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if "+cpu" in torch.__version__ else 1)' 2>/dev/null; then
    echo "torch: CPU build"
else
    echo "warning: torch in $VENV is not a +cpu build (or missing)" >&2
fi

TOK="$VENV/tiny-tokenizer"
if [ ! -f "$TOK/tokenizer.json" ]; then
    "$VENV/bin/python" - "$TOK" <<'PY'
import glob
import os
import sys
import sysconfig

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

out = sys.argv[1]
files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))[:200]
tok = Tokenizer(models.BPE(unk_token=None))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=4096, special_tokens=["<s>", "</s>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train(files, trainer)
fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")
fast.save_pretrained(out)
print("tokenizer:", out)
PY
fi
echo "GuideLLM venv ready: $VENV"
