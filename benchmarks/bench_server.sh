#!/usr/bin/env bash
# make bench-server: what site.yml deploys vs a plain `vllm serve`, on the same host.
# 1. `scripts/demo.sh` runs playbooks/site.yml on the demo host (a local systemd container)
#    with vLLM's default compilation (the demo's --enforce-eager only shortens its start-up);
#    BENCH_REUSE_DEMO=1 benchmarks a demo host that is already up instead.
# 2. A plain server with vLLM's defaults is started in the same container, from the venv the
#    role installed (no preloads, no pinning, no plan; only the KV cache pinned to the demo's
#    1 GiB and the hub off), on port 8290 of the container's address.
# 3. benchmarks/bench_server.py runs the same closed-loop load against both in alternating
#    rounds, prints the ratio per round and the median, and fails below --min-ratio (1.25).
# Extra arguments go to bench_server.py (e.g. --rounds 7). KEEP=1 keeps the demo host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
container=${DEMO_CONTAINER:-inferops-demo}
baseline_port=8290
mkdir -p "$WORKDIR/logs"
converge_log=$WORKDIR/logs/bench-server-demo.log
if [ "${BENCH_REUSE_DEMO:-0}" != 1 ]; then
  log "deploying the demo host with site.yml (log: $converge_log)"
  DEMO_KEEP=1 "$REPO_ROOT/scripts/demo.sh" -e '{"server_extra_args": []}' >"$converge_log" 2>&1 \
    || { tail -40 "$converge_log"; die "the demo failed"; }
fi
podman container exists "$container" || die "no demo host $container (run without BENCH_REUSE_DEMO)"

stop_baseline() { podman exec "$container" pkill -f -- "--port $baseline_port" >/dev/null 2>&1 || true; }
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  stop_baseline
  [ "${KEEP:-0}" = 1 ] || podman rm -f "$container" >/dev/null 2>&1 || true
}
trap cleanup EXIT

deployed=$(podman exec "$container" cat /etc/inferops-vllm/deployed.json)
# The endpoint clients use (the front port, or the only instance's port), published on loopback.
port=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["front_port"] or d["instances"][0]["port"])' \
  "$deployed")
venv=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["venv"])' "$deployed")
model=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["model_path"])' "$deployed")
name=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["model_name"])' "$deployed")
ip=$(podman inspect "$container" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
[ -n "$ip" ] || die "no IP address for $container"

keyargs=()
# The role's root-only key file, when the host has a key: copied to a 0600 file, never on a command line.
if podman exec "$container" test -s /etc/inferops-vllm/api-key.env 2>/dev/null; then
  keyfile=$(mktemp)
  podman exec "$container" sed -n 's/^VLLM_API_KEY=//p' /etc/inferops-vllm/api-key.env >"$keyfile"
  keyargs=(--api-key-file "$keyfile")
fi

stop_baseline
log "starting a plain vLLM server in $container from $venv on port $baseline_port"
# shellcheck disable=SC2016  # expanded by the container's shell
podman exec -d "$container" sh -c 'exec env HF_HUB_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
  VLLM_CPU_KVCACHE_SPACE=1 "$1/bin/python" -m vllm.entrypoints.openai.api_server --model "$2" \
  --served-model-name "$3" --host 0.0.0.0 --port "$4" >/tmp/bench-baseline.log 2>&1' sh \
  "$venv" "$model" "$name" "$baseline_port"
rc=0
python3 "$REPO_ROOT/benchmarks/bench_server.py" --deployed "http://127.0.0.1:$port" "${keyargs[@]}" \
  --baseline-url "http://$ip:$baseline_port" --model "$model" --served-model-name "$name" \
  --json "$WORKDIR/logs/bench-server.json" "$@" || rc=$?
[ -z "${keyfile:-}" ] || rm -f "$keyfile"
exit "$rc"
