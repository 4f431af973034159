#!/usr/bin/env bash
# make bench-faults: each fault of the serving path, repeated, on a deployed host.
# 1. The host: BENCH_FAULTS_HOST=demo (default) runs playbooks/site.yml on the demo host (a local
#    systemd container, vLLM as systemd services); BENCH_FAULTS_HOST=quadlet creates and converges
#    molecule's vllm_cpu_podman host (Debian 13, vLLM from an image as a Podman quadlet service).
#    BENCH_REUSE_HOST=1 (or BENCH_REUSE_DEMO=1) uses a host that is already up instead.
# 2. benchmarks/bench_faults.py kills the API server, the engine core and the CPU worker with
#    SIGKILL, and makes the kernel OOM-kill the instance under a tiny MemoryMax, each 5 times in a
#    row, and prints the seconds to a new process and to serving for every run.
# Extra arguments go to bench_faults.py (e.g. --runs 3 --cases main,oom). KEEP=1 keeps the host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
host=${BENCH_FAULTS_HOST:-demo}
reuse=${BENCH_REUSE_HOST:-${BENCH_REUSE_DEMO:-0}}
mkdir -p "$WORKDIR/logs"
deploy_log=$WORKDIR/logs/bench-faults-$host.log
case "$host" in
  demo)
    container=${DEMO_CONTAINER:-inferops-demo}
    # shellcheck disable=SC2317  # run by the EXIT trap
    remove_host() { podman rm -f "$container" >/dev/null 2>&1; }
    deploy() {
      # its own cgroup namespace: MemoryMax enforced on a cgroup v1 host too (the OOM case needs it)
      DEMO_PODMAN_ARGS="--cgroupns=private ${DEMO_PODMAN_ARGS:-}" DEMO_KEEP=1 "$REPO_ROOT/scripts/demo.sh"
    } ;;
  quadlet)
    container=vllm-cpu-podman
    scenario=vllm_cpu_podman
    # shellcheck disable=SC2317  # run by the EXIT trap
    remove_host() { (cd "$COLLECTION_LINK" && molecule destroy -s "$scenario" >/dev/null 2>&1); }
    deploy() {
      "$REPO_ROOT/scripts/ci/setup_host.sh" && "$REPO_ROOT/scripts/ci/build_images.sh" \
        && "$REPO_ROOT/scripts/ci/setup_venv.sh" && "$REPO_ROOT/scripts/ci/setup_vllm.sh" || return 1
      export INFEROPS_IMAGE_DEBIAN12=$IMAGE_DEBIAN12 INFEROPS_IMAGE_DEBIAN13=$IMAGE_DEBIAN13
      cd "$COLLECTION_LINK" && molecule create -s "$scenario" && molecule converge -s "$scenario"
    } ;;
  *) die "BENCH_FAULTS_HOST=$host: expected demo or quadlet" ;;
esac
if [ "$reuse" != 1 ]; then
  log "deploying the $host host $container (log: $deploy_log)"
  (deploy) >"$deploy_log" 2>&1 || { tail -40 "$deploy_log"; die "the $host host could not be deployed"; }
fi
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() { [ "${KEEP:-0}" = 1 ] || remove_host || true; }
trap cleanup EXIT
python3 "$REPO_ROOT/benchmarks/bench_faults.py" --container "$container" \
  --json "$WORKDIR/logs/bench-faults-$host.json" "$@"
