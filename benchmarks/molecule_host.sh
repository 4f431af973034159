# shellcheck shell=bash
# Sourced by the benchmarks that run on a molecule scenario's host (bench_affinity.sh, bench_upgrade.sh),
# after scripts/ci/common.sh: converge_molecule_host SCENARIO LOG prepares the machine (podman, images,
# the Ansible venv, the vLLM wheelhouse and model), creates the scenario's host (BENCH_REUSE_HOST=1: uses
# the one that is up) and converges it as the scenario deploys it; the host is destroyed on exit unless KEEP=1.

converge_molecule_host() {
  local scenario=$1 converge_log=$2
  "$REPO_ROOT/scripts/ci/setup_host.sh"
  "$REPO_ROOT/scripts/ci/build_images.sh"
  "$REPO_ROOT/scripts/ci/setup_venv.sh"
  "$REPO_ROOT/scripts/ci/setup_vllm.sh"
  export INFEROPS_IMAGE_DEBIAN12=$IMAGE_DEBIAN12 INFEROPS_IMAGE_DEBIAN13=$IMAGE_DEBIAN13
  BENCH_SCENARIO=$scenario
  trap destroy_molecule_host EXIT
  log "converging the host of molecule $scenario (log: $converge_log)"
  (
    cd "$COLLECTION_LINK" || exit 1
    if [ "${BENCH_REUSE_HOST:-0}" != 1 ]; then molecule create -s "$scenario" || exit 1; fi
    molecule converge -s "$scenario"
  ) >"$converge_log" 2>&1 || { tail -40 "$converge_log"; die "the host could not be converged"; }
}

# shellcheck disable=SC2317  # run by the EXIT trap
destroy_molecule_host() {
  [ "${KEEP:-0}" = 1 ] || (cd "$COLLECTION_LINK" && molecule destroy -s "$BENCH_SCENARIO" >/dev/null 2>&1) || true
}
