#!/usr/bin/env bash
# GPU smoke test: the CUDA vLLM build serves the tiny model on an NVIDIA GPU and the collection's
# throughput gate measures it. Every step is time-bounded; the server is always stopped.
#
#   tests/device/run_gpu_smoke.sh            # from the repository root, on a host with an NVIDIA GPU
#
# Needs: nvidia-smi and a working driver, python3 (3.9+) with venv, PyPI (or a wheelhouse, see
# INFEROPS_PIP_ARGS), ~15 GB of disk for the venv. Writes its outputs to $OUT when set (else to
# $WORK/out): nvidia-smi.txt, nvidia_gpu_info.txt, pip.log, model.log, server.log,
# gate.log, throughput.json/.md/.junit.xml, summary.txt. The last line printed is "tok/s: N".
#
# Knobs (environment):
#   INFEROPS_GPU_WORKDIR   work directory (venv, model)            default /var/tmp/inferops-gpu-smoke
#   INFEROPS_GPU_VENV      an existing venv with vllm to reuse    default $WORK/venv (created)
#   INFEROPS_GPU_ANSIBLE_VENV  a venv with ansible-core for the gate  default $WORK/ansible-venv (created)
#   INFEROPS_VLLM_SPEC     what pip installs                      default vllm
#   INFEROPS_PIP_ARGS      extra pip arguments, e.g. "--no-index --find-links /srv/wheels"
#   INFEROPS_GPU_BUDGET_S  wall-clock budget of the whole run     default 1500
#   INFEROPS_GPU_PORT      server port                            default 8011
#   INFEROPS_GPU_CONCURRENCY / INFEROPS_GPU_DURATION_S / INFEROPS_GPU_PROMPT_TOKENS / INFEROPS_GPU_OUTPUT_TOKENS
#                          load of the gate                       default 32 / 30 / 128 / 128
#   INFEROPS_GPU_MEM_UTIL  --gpu-memory-utilization               default 0.5
#   INFEROPS_GPU_EAGER     1 adds --enforce-eager (no CUDA graphs / compile: faster start, lower tok/s)
#   INFEROPS_GPU_SMOKE_CPU 1 rehearses the script on a CPU-only machine with a vLLM CPU venv
#                          (INFEROPS_GPU_VENV); its numbers say nothing about GPUs.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${INFEROPS_GPU_WORKDIR:-/var/tmp/inferops-gpu-smoke}
VENV=${INFEROPS_GPU_VENV:-$WORK/venv}
ANSIBLE_VENV=${INFEROPS_GPU_ANSIBLE_VENV:-$WORK/ansible-venv}
VLLM_SPEC=${INFEROPS_VLLM_SPEC:-vllm}
read -r -a PIP_ARGS <<<"${INFEROPS_PIP_ARGS:-}"
BUDGET_S=${INFEROPS_GPU_BUDGET_S:-1500}
PORT=${INFEROPS_GPU_PORT:-8011}
CONCURRENCY=${INFEROPS_GPU_CONCURRENCY:-32}
DURATION_S=${INFEROPS_GPU_DURATION_S:-30}
PROMPT_TOKENS=${INFEROPS_GPU_PROMPT_TOKENS:-128}
OUTPUT_TOKENS=${INFEROPS_GPU_OUTPUT_TOKENS:-128}
MEM_UTIL=${INFEROPS_GPU_MEM_UTIL:-0.5}
CPU_REHEARSAL=${INFEROPS_GPU_SMOKE_CPU:-0}
MODEL_NAME=tiny-llama
OUTDIR=${OUT:-$WORK/out}
MODEL_DIR=$WORK/models/$MODEL_NAME
START=$(date +%s)
SERVER_PID=

mkdir -p "$WORK" "$OUTDIR"
log() { printf '[%s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - START ))" "$*" | tee -a "$OUTDIR/summary.txt" >&2; }
die() { log "FAILED: $*"; exit 1; }
# Seconds a step may take: its own limit, capped by what is left of the budget.
# (Out of budget: 1 s, so that the step times out and says so.)
left() {
  local want=$1 remaining=$(( BUDGET_S - ($(date +%s) - START) ))
  if [ "$remaining" -lt 1 ]; then echo 1; elif [ "$want" -lt "$remaining" ]; then echo "$want"; else echo "$remaining"; fi
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping the vLLM server (pid $SERVER_PID)"
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

: >"$OUTDIR/summary.txt"
log "GPU smoke test: repo $REPO_ROOT, work $WORK, outputs $OUTDIR, budget ${BUDGET_S}s"

# 1. The GPU and its driver.
if [ "$CPU_REHEARSAL" = 1 ]; then
  log "CPU rehearsal (INFEROPS_GPU_SMOKE_CPU=1): no GPU checks, numbers are not GPU numbers"
else
  command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this script needs an NVIDIA GPU with its driver (inferops.vllm.nvidia_gpu installs it)"
  timeout 60 nvidia-smi >"$OUTDIR/nvidia-smi.txt" 2>&1 || die "nvidia-smi cannot talk to the driver: $(head -n 3 "$OUTDIR/nvidia-smi.txt")"
  timeout 60 nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id,driver_version,persistence_mode \
    --format=csv,noheader,nounits >>"$OUTDIR/nvidia-smi.txt"
  log "GPUs: $(grep -c GPU- "$OUTDIR/nvidia-smi.txt" || true); $(grep -o 'Driver Version: [0-9.]*' "$OUTDIR/nvidia-smi.txt" | head -n 1)"
fi

# 2. The venvs: CUDA vLLM from PyPI (or INFEROPS_PIP_ARGS); ansible-core for the gate, apart.
make_venv() {  # make_venv DIR
  [ -x "$1/bin/python" ] && return 0
  log "creating $1"
  if command -v uv >/dev/null; then uv venv -q --seed --python "$(command -v python3)" "$1"; else python3 -m venv "$1"; fi
}
pip_install() {  # pip_install VENV SECONDS PACKAGE...
  local venv=$1 limit=$2; shift 2
  if command -v uv >/dev/null; then
    timeout "$limit" env VIRTUAL_ENV="$venv" uv pip install "${PIP_ARGS[@]}" "$@"
  else
    timeout "$limit" "$venv/bin/python" -m pip install --disable-pip-version-check "${PIP_ARGS[@]}" "$@"
  fi
}
make_venv "$VENV"
: >"$OUTDIR/pip.log"
if ! "$VENV/bin/python" -c 'import vllm' 2>/dev/null; then
  log "installing $VLLM_SPEC (CUDA build; several GB) into $VENV"
  pip_install "$VENV" "$(left 1200)" "$VLLM_SPEC" >>"$OUTDIR/pip.log" 2>&1 \
    || die "pip install $VLLM_SPEC failed or timed out: $(tail -n 5 "$OUTDIR/pip.log")"
fi
make_venv "$ANSIBLE_VENV"
if [ ! -x "$ANSIBLE_VENV/bin/ansible" ]; then
  log "installing ansible-core into $ANSIBLE_VENV"
  pip_install "$ANSIBLE_VENV" "$(left 300)" ansible-core >>"$OUTDIR/pip.log" 2>&1 \
    || die "pip install ansible-core failed: $(tail -n 5 "$OUTDIR/pip.log")"
fi
VERSIONS=$("$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import torch
def version(name):
    for dist in (name, name + '-cpu'):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return '?'
print('vllm %s, torch %s, CUDA %s, cuda available %s' % (version('vllm'), torch.__version__, torch.version.cuda, torch.cuda.is_available()))
PY
)
log "$VERSIONS"
if [ "$CPU_REHEARSAL" != 1 ]; then
  case "$VERSIONS" in *"cuda available True"*) ;; *) die "torch in $VENV does not see a CUDA GPU ($VERSIONS)";; esac
fi

# 3. The collection, found by ansible as inferops.vllm (the checkout itself).
COLLECTIONS=$WORK/collections
mkdir -p "$COLLECTIONS/ansible_collections/inferops"
ln -sfn "$REPO_ROOT" "$COLLECTIONS/ansible_collections/inferops/vllm"
export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
ansible_module() {  # ansible_module SECONDS MODULE [ARGS]: one module on localhost (standard library only)
  timeout "$1" "$ANSIBLE_VENV/bin/ansible" localhost -c local -i localhost, \
    -e "ansible_python_interpreter=$ANSIBLE_VENV/bin/python" -m "$2" ${3:+-a "$3"}
}
if [ "$CPU_REHEARSAL" != 1 ]; then
  log "GPU facts (inferops.vllm.nvidia_gpu_info)"
  ansible_module "$(left 120)" inferops.vllm.nvidia_gpu_info >"$OUTDIR/nvidia_gpu_info.txt" 2>&1 \
    || log "nvidia_gpu_info failed (not fatal): $(head -c 400 "$OUTDIR/nvidia_gpu_info.txt")"
fi

# 4. The tiny model (no hub: tokenizer trained on local text, random weights).
if [ ! -f "$MODEL_DIR/config.json" ]; then
  log "building the tiny model at $MODEL_DIR"
  timeout "$(left 300)" "$VENV/bin/python" "$REPO_ROOT/tests/support/make_tiny_model.py" "$MODEL_DIR" \
    >"$OUTDIR/model.log" 2>&1 || die "make_tiny_model.py failed: $(tail -n 5 "$OUTDIR/model.log")"
fi

# 5. The server, in its own process group so that every worker goes with it.
SERVER_ARGS=(--model "$MODEL_DIR" --served-model-name "$MODEL_NAME" --max-model-len 2048 --host 127.0.0.1 --port "$PORT")
if [ "$CPU_REHEARSAL" = 1 ]; then
  export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
  SERVER_ARGS+=(--enforce-eager)
else
  SERVER_ARGS+=(--gpu-memory-utilization "$MEM_UTIL")
  [ "${INFEROPS_GPU_EAGER:-0}" = 1 ] && SERVER_ARGS+=(--enforce-eager)
fi
export HF_HUB_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 VLLM_CACHE_ROOT=$WORK/vllm-cache
log "starting vLLM: ${SERVER_ARGS[*]}"
setsid "$VENV/bin/python" -m vllm.entrypoints.openai.api_server "${SERVER_ARGS[@]}" >"$OUTDIR/server.log" 2>&1 &
SERVER_PID=$!

ready_limit=$(left 600)
until "$VENV/bin/python" -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2).status != 200)" 2>/dev/null; do
  kill -0 "$SERVER_PID" 2>/dev/null || die "the vLLM server exited: $(tail -n 15 "$OUTDIR/server.log")"
  if [ "$ready_limit" -le 0 ] || [ $(( $(date +%s) - START )) -ge $(( BUDGET_S - 60 )) ]; then
    die "the vLLM server was not healthy in time: $(tail -n 15 "$OUTDIR/server.log")"
  fi
  ready_limit=$(( ready_limit - 2 ))
  sleep 2
done
log "server healthy"

# 6. The gate: inferops.vllm.throughput against the server; report files land in $OUTDIR.
GATE_ARGS="url=http://127.0.0.1:$PORT model=$MODEL_NAME concurrency=$CONCURRENCY duration_s=$DURATION_S"
GATE_ARGS+=" prompt_tokens=$PROMPT_TOKENS output_tokens=$OUTPUT_TOKENS warmup_requests=$CONCURRENCY"
GATE_ARGS+=" on_inconclusive=warn report_dir=$OUTDIR report_name=throughput"
log "throughput gate: $GATE_ARGS"
gate_rc=0
ansible_module "$(left $(( DURATION_S + 240 )))" inferops.vllm.throughput "$GATE_ARGS" >"$OUTDIR/gate.log" 2>&1 || gate_rc=$?
stop_server

[ -f "$OUTDIR/throughput.json" ] || die "the gate wrote no report (rc $gate_rc): $(tail -n 20 "$OUTDIR/gate.log")"
SUMMARY=$("$VENV/bin/python" - "$OUTDIR/throughput.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r.get('throughput') or {}
print('verdict %s; %s' % (r.get('verdict'), r.get('msg', '').splitlines()[0] if r.get('msg') else ''))
print('tok/s: %.1f' % (t.get('output_tokens_per_s') or 0.0))
PY
)
log "$(head -n 1 <<<"$SUMMARY")"
log "elapsed $(( $(date +%s) - START ))s; outputs in $OUTDIR"
tail -n 1 <<<"$SUMMARY" | tee -a "$OUTDIR/summary.txt"
