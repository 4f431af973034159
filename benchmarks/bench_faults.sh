#!/usr/bin/env bash
# make bench-faults: each fault of the serving path, repeated, on the demo host.
# 1. `scripts/demo.sh` runs playbooks/site.yml on the demo host (a local systemd container);
#    BENCH_REUSE_DEMO=1 uses a demo host that is already up instead.
# 2. benchmarks/bench_faults.py kills the API server, the engine core and the CPU worker with
#    SIGKILL, and makes the kernel OOM-kill the instance under a tiny MemoryMax, each 5 times in a
#    row, and prints the seconds to a new process and to serving for every run.
# Extra arguments go to bench_faults.py (e.g. --runs 3 --cases main,oom). KEEP=1 keeps the demo host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
container=${DEMO_CONTAINER:-inferops-demo}
mkdir -p "$WORKDIR/logs"
converge_log=$WORKDIR/logs/bench-faults-demo.log
if [ "${BENCH_REUSE_DEMO:-0}" != 1 ]; then
  log "deploying the demo host with site.yml (log: $converge_log)"
  # its own cgroup namespace: MemoryMax enforced on a cgroup v1 host too (the OOM case needs it)
  DEMO_PODMAN_ARGS="--cgroupns=private ${DEMO_PODMAN_ARGS:-}" DEMO_KEEP=1 "$REPO_ROOT/scripts/demo.sh" >"$converge_log" 2>&1 || { tail -40 "$converge_log"; die "the demo failed"; }
fi
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() { [ "${KEEP:-0}" = 1 ] || podman rm -f "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT
python3 "$REPO_ROOT/benchmarks/bench_faults.py" --container "$container" --json "$WORKDIR/logs/bench-faults.json" "$@"
