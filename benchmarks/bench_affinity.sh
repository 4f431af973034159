#!/usr/bin/env bash
# make bench-affinity: the front's session affinity vs least connections on the 2-instance host.
# 1. molecule's vllm_cpu_systemd host (two single-core vLLM CPU instances behind the role's HAProxy
#    front) is created and converged as the scenario deploys it; BENCH_REUSE_HOST=1 converges a host
#    that is already up.
# 2. benchmarks/bench_affinity.py sends the agentic profile through the front with the role's
#    configuration and with least connections only, in alternating rounds, and compares prefix-cache
#    hit rates and later-turn TTFT.
# Extra arguments go to bench_affinity.py (e.g. --rounds 5 --rate 0.3). KEEP=1 keeps the host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
scenario=vllm_cpu_systemd
container=vllm-cpu-systemd
mkdir -p "$WORKDIR/logs"
converge_log=$WORKDIR/logs/bench-affinity-converge.log
"$REPO_ROOT/scripts/ci/setup_host.sh"
"$REPO_ROOT/scripts/ci/build_images.sh"
"$REPO_ROOT/scripts/ci/setup_venv.sh"
"$REPO_ROOT/scripts/ci/setup_vllm.sh"
export INFEROPS_IMAGE_DEBIAN12=$IMAGE_DEBIAN12 INFEROPS_IMAGE_DEBIAN13=$IMAGE_DEBIAN13

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() { [ "${KEEP:-0}" = 1 ] || (cd "$COLLECTION_LINK" && molecule destroy -s "$scenario" >/dev/null 2>&1) || true; }
trap cleanup EXIT
log "converging the 2-instance host $container (molecule $scenario; log: $converge_log)"
(
  cd "$COLLECTION_LINK" || exit 1
  if [ "${BENCH_REUSE_HOST:-0}" != 1 ]; then molecule create -s "$scenario" || exit 1; fi
  molecule converge -s "$scenario"
) >"$converge_log" 2>&1 || { tail -40 "$converge_log"; die "the host could not be converged"; }
python3 "$REPO_ROOT/benchmarks/bench_affinity.py" --container "$container" \
  --json "$WORKDIR/logs/bench-affinity.json" "$@"
