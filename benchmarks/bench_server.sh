#!/usr/bin/env bash
# make bench-server: deploy the plan for the test container's own topology with the role
# (vllm_cpu_systemd scenario with bench_plan=true: the plan as planned, compiled, tcmalloc and
# Intel OpenMP preloaded as the xeon_tuning role would), then compare it with a plain vLLM
# server with defaults on the same host, model and load (benchmarks/bench_server.py), then
# remove the test container. Extra arguments go to bench_server.py (e.g. --concurrency 16).
# BENCH_PLAN=false benchmarks the scenario's test layout instead (two single-core eager
# instances behind HAProxy). KEEP=1 keeps the container.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
scenario=vllm_cpu_systemd
container=vllm-cpu-systemd
key=molecule-test-key-3f9c2a  # the scenario's test-only key (molecule.yml)
export INFEROPS_IMAGE_DEBIAN12=$IMAGE_DEBIAN12
cd "$COLLECTION_LINK" || exit 1
mkdir -p "$WORKDIR/logs"
log "deploying with the server role (bench_plan=${BENCH_PLAN:-true}); log: $WORKDIR/logs/bench-server-converge.log"
molecule converge -s "$scenario" -- -e "bench_plan=${BENCH_PLAN:-true}" -e server_readiness_timeout=900 \
  >"$WORKDIR/logs/bench-server-converge.log" 2>&1 \
  || { tail -40 "$WORKDIR/logs/bench-server-converge.log"; die "converge failed"; }
cleanup() { [ "${KEEP:-0}" = 1 ] || molecule destroy -s "$scenario" >/dev/null 2>&1 || true; rm -f "$keyfile"; }
keyfile=$(mktemp)
trap cleanup EXIT
printf '%s\n' "$key" >"$keyfile"
ip=$(podman inspect "$container" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
[ -n "$ip" ] || die "no IP address for $container"
# The endpoint clients use: the front port, or the only instance's port.
port=$(podman exec "$container" cat /etc/inferops-vllm/deployed.json | python3 -c \
  'import json, sys; d = json.load(sys.stdin); print(d["front_port"] or d["instances"][0]["port"])')
python3 "$REPO_ROOT/benchmarks/bench_server.py" --deployed "http://$ip:$port" --api-key-file "$keyfile" \
  --model "$WORKDIR/models/tiny-llama" --served-model-name tiny-llama \
  --json "$WORKDIR/logs/bench-server.json" "$@"
