#!/usr/bin/env bash
# make bench-server: deploy the vllm_cpu_systemd scenario (the role, two pinned instances
# behind HAProxy), then compare it with a plain vLLM server with defaults on the same host,
# model and load (benchmarks/bench_server.py), then remove the test container.
# Extra arguments go to bench_server.py (e.g. --concurrency 16 --requests 128).
# KEEP=1 keeps the container (and skips converge when it already runs).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
scenario=vllm_cpu_systemd
container=vllm-cpu-systemd
key=molecule-test-key-3f9c2a  # the scenario's test-only key (molecule.yml)
export INFEROPS_IMAGE_DEBIAN12=$IMAGE_DEBIAN12
cd "$COLLECTION_LINK" || exit 1
if [ "${KEEP:-0}" != 1 ] || ! podman container exists "$container"; then
  molecule converge -s "$scenario" >"$WORKDIR/logs/bench-server-converge.log" 2>&1 \
    || { tail -40 "$WORKDIR/logs/bench-server-converge.log"; die "converge failed"; }
fi
cleanup() { [ "${KEEP:-0}" = 1 ] || molecule destroy -s "$scenario" >/dev/null 2>&1 || true; rm -f "$keyfile"; }
keyfile=$(mktemp)
trap cleanup EXIT
printf '%s\n' "$key" >"$keyfile"
ip=$(podman inspect "$container" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
[ -n "$ip" ] || die "no IP address for $container"
mkdir -p "$WORKDIR/logs"
python3 "$REPO_ROOT/benchmarks/bench_server.py" --deployed "http://$ip:8000" --api-key-file "$keyfile" \
  --model "$WORKDIR/models/tiny-llama" --served-model-name tiny-llama \
  --json "$WORKDIR/logs/bench-server.json" "$@"
