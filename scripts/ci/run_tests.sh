#!/usr/bin/env bash
# Runs test stages, one line per stage, and ends with "N passed, N failed".
# Usage: run_tests.sh all | lint | sanity | unit | integration | importer | changelog | e2e | molecule [SCENARIO...]
# A stage that cannot run (its set-up failed) counts as failed, with the reason.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
CI_DIR=$(cd "$(dirname "$0")" && pwd)
LOGDIR=${INFEROPS_LOGDIR:-$WORKDIR/logs}  # a second checkout testing at once sets its own
mkdir -p "$LOGDIR"
# One line per finished stage ("PASS|FAIL NAME SECONDS RC"): stages may run in background lanes,
# so the counts are read from here at the end, not kept in shell variables.
RESULTS=$LOGDIR/results.$$
: >"$RESULTS"
trap 'rm -f "$RESULTS"' EXIT

stage() {  # stage NAME COMMAND...
  local name=$1; shift
  local log=$LOGDIR/$name.log start rc
  start=$(date +%s)
  log "stage $name: running (log: $log)"
  set +e
  ( "$@" ) >"$log" 2>&1
  rc=$?
  set -e
  local secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    echo "PASS $name $secs 0" >>"$RESULTS"
    printf 'STAGE %-28s PASS  %4ss\n' "$name" "$secs"
  else
    echo "FAIL $name $secs $rc" >>"$RESULTS"
    printf 'STAGE %-28s FAIL  %4ss  (rc=%s; its last lines are printed at the end)\n' "$name" "$secs" "$rc"
  fi
}

setup_host() { "$CI_DIR/setup_host.sh"; }
setup_venv() { "$CI_DIR/setup_venv.sh"; }
setup_images() { "$CI_DIR/build_images.sh"; }
setup_vllm() { "$CI_DIR/setup_vllm.sh"; }

scenarios() {
  if [ $# -gt 0 ]; then printf '%s\n' "$@"; return; fi
  for d in "$REPO_ROOT"/molecule/*/molecule.yml; do
    [ -f "$d" ] && basename "$(dirname "$d")"
  done
}

run_stage() {
  case "$1" in
    lint) stage lint "$CI_DIR/stage_lint.sh" ;;
    sanity) stage sanity "$CI_DIR/stage_sanity.sh" ;;
    unit) stage unit "$CI_DIR/stage_unit.sh" ;;
    integration) stage integration "$CI_DIR/stage_integration.sh" ;;
    importer) stage galaxy-importer "$CI_DIR/stage_importer.sh" ;;
    changelog) stage changelog "$CI_DIR/stage_changelog.sh" ;;
    e2e) stage e2e "$CI_DIR/stage_e2e.sh" ;;
    molecule)
      shift
      local s list
      list=$(scenarios "$@")
      [ -n "$list" ] || { stage molecule false; return; }
      for s in $list; do
        stage "molecule-$s" "$CI_DIR/stage_molecule.sh" "$s"
      done ;;
    *) die "unknown stage $1" ;;
  esac
}

run_lane() {  # run_lane ITEM...: in order; ITEM is a stage of run_stage, molecule:SCENARIO, a setup-* stage
  local item    # or after:STAGE (wait until another lane has finished STAGE)
  for item in "$@"; do
    case $item in
      after:*) until grep -q " ${item#after:} " "$RESULTS"; do sleep 5; done ;;
      molecule:*) run_stage molecule "${item#molecule:}" ;;
      setup-*) stage "$item" "${item//-/_}" ;;
      *) run_stage "$item" ;;
    esac
  done
}

lanes() {  # lanes "ITEM..." "ITEM...": the lanes run at once, the items of a lane one after another
  local lane pids=() pid
  for lane in "$@"; do
    # shellcheck disable=SC2086  # a lane is a list of words
    run_lane $lane &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
}

what=${1:-all}; shift || true
# Set-up is a stage of its own so that a broken set-up is reported, not hidden.
case "$what" in
  all)
    # Two lanes. Run one after another, the stages left a core idle: unit tests, lint, sanity and the
    # scenarios without vLLM keep about one core busy, the vLLM scenarios wait on model loads and
    # restarts (a third of the machine idle), and on a fresh machine the set-up waits on the network.
    # The vLLM scenarios and e2e (the longest chain) run one at a time in their own lane, never two
    # vLLM servers of different stages at once; everything else runs in the other lane.
    run_lane setup-host setup-venv
    # The vLLM lane is the longer (a clean-clone run on the 2-core EPYC VM: 55 minutes, the other lane
    # 35): the unit tests run in the other lane, after the vLLM set-up the first lane waits for anyway.
    lanes "setup-images after:setup-vllm molecule:vllm_cpu_podman molecule:vllm_cpu_systemd e2e" \
          "setup-vllm unit changelog lint sanity integration importer molecule:topology molecule:validate molecule:nvidia_gpu molecule:xeon_tuning molecule:vllm_nvidia_render"
    ;;
  e2e|molecule)
    run_lane setup-host setup-venv setup-images setup-vllm
    run_stage "$what" "$@" ;;
  *)
    stage setup-venv setup_venv
    run_stage "$what" "$@" ;;
esac

echo
passed=0 failed=0
while read -r verdict name secs rc; do
  if [ "$verdict" = PASS ]; then
    passed=$((passed + 1)); echo "PASS  $name (${secs}s)"
  else
    failed=$((failed + 1)); echo "FAIL  $name (${secs}s, rc=$rc)"
  fi
done <"$RESULTS"
while read -r verdict name _secs _rc; do
  [ "$verdict" = FAIL ] || continue
  printf '\n--- last lines of %s ---\n' "$LOGDIR/$name.log"
  tail -n 40 "$LOGDIR/$name.log" | sed 's/^/    | /'
done <"$RESULTS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
