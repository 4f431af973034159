#!/usr/bin/env bash
# Runs test stages, one line per stage, and ends with "N passed, N failed".
# Usage: run_tests.sh all | lint | sanity | unit | integration | importer | changelog | e2e | molecule [SCENARIO...]
# A stage that cannot run (its set-up failed) counts as failed, with the reason.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
CI_DIR=$(cd "$(dirname "$0")" && pwd)
LOGDIR=${INFEROPS_LOGDIR:-$WORKDIR/logs}  # a second checkout testing at once sets its own
mkdir -p "$LOGDIR"
passed=0 failed=0
results=()

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
    passed=$((passed + 1)); results+=("PASS  $name (${secs}s)")
    printf 'STAGE %-28s PASS  %4ss\n' "$name" "$secs"
  else
    failed=$((failed + 1)); results+=("FAIL  $name (${secs}s, rc=$rc)")
    printf 'STAGE %-28s FAIL  %4ss  (rc=%s, last lines of %s follow)\n' "$name" "$secs" "$rc" "$log"
    tail -n 40 "$log" | sed 's/^/    | /'
  fi
}

setup_venv() { "$CI_DIR/setup_venv.sh"; }
setup_containers() { "$CI_DIR/setup_host.sh" && "$CI_DIR/build_images.sh"; }
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

what=${1:-all}; shift || true
# Set-up is a stage of its own so that a broken set-up is reported, not hidden.
case "$what" in
  all)
    stage setup-venv setup_venv
    stage setup-containers setup_containers
    stage setup-vllm setup_vllm
    for s in changelog lint sanity unit integration importer; do run_stage "$s"; done
    run_stage molecule
    run_stage e2e ;;
  e2e)
    stage setup-venv setup_venv
    stage setup-containers setup_containers
    stage setup-vllm setup_vllm
    run_stage e2e ;;
  molecule)
    stage setup-venv setup_venv
    stage setup-containers setup_containers
    stage setup-vllm setup_vllm
    run_stage molecule "$@" ;;
  *)
    stage setup-venv setup_venv
    run_stage "$what" "$@" ;;
esac

echo
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
