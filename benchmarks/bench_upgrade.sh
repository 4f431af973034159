#!/usr/bin/env bash
# make bench-upgrade: upgrades that must fail, on the 2-instance host, under load through the front.
# 1. molecule's vllm_cpu_systemd host (two single-core vLLM CPU instances behind the role's HAProxy
#    front) is created and converged as the scenario deploys it; BENCH_REUSE_HOST=1 converges a host
#    that is already up.
# 2. For each case, while molecule's front_load.py sends completions through the front:
#    benchmarks/bench_upgrade_before.yml reads what serves and starts the load; then
#    playbooks/rolling_upgrade.yml itself runs with the case's settings as extra vars, as a user's
#    upgrade would:
#      bad_flag         server_extra_args with a flag vLLM rejects
#      missing_version  server_vllm_version that the wheelhouse does not have (pip fails)
#      broken_version   server_vllm_version given with -e whose venv is there but cannot start
#    and benchmarks/bench_upgrade_after.yml stops the load and reads what serves. It prints, per case:
#    failed/ok requests, which instances were restarted, the version serving after, partial venvs. It
#    fails unless every case failed the upgrade, kept the previous release serving with 0 failed
#    requests, and left no partial venv.
# rolling_upgrade.yml plans one instance per NUMA node, so on this one-node machine it would plan one:
# it is given the host's two instances as its plan (inferops_plan, which plan.yml then keeps).
# BENCH_UPGRADE_CASES (comma-separated) picks cases. KEEP=1 keeps the host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
scenario=vllm_cpu_systemd
container=vllm-cpu-systemd
mkdir -p "$WORKDIR/logs"
# shellcheck source=benchmarks/molecule_host.sh
source "$REPO_ROOT/benchmarks/molecule_host.sh"
converge_molecule_host "$scenario" "$WORKDIR/logs/bench-upgrade-converge.log"

# The scenario's group_vars (its server_* settings) as an inventory for the container, in the group
# rolling_upgrade.yml targets, with the inferops_model_* variables it passes to the server role.
inventory=$WORKDIR/logs/bench-upgrade-inventory.yml
python3 - "$REPO_ROOT/molecule/$scenario/molecule.yml" "$inventory" "$container" <<'PY'
import os
import re
import sys
import yaml
src, dest, host = sys.argv[1:4]
text = re.sub(r'\$\{(\w+):-([^}]*)\}', lambda m: os.environ.get(m.group(1)) or m.group(2), open(src).read())
group_vars = yaml.safe_load(text)['provisioner']['inventory']['group_vars']['all']
group_vars.update({'inferops_model_%s' % key: group_vars['server_model_%s' % key] for key in ('name', 'path', 'source', 'src')})
inv = {'all': {'vars': group_vars, 'children': {'inference': {'hosts': {host: {'ansible_connection': 'containers.podman.podman'}}}}}}
open(dest, 'w').write(yaml.safe_dump(inv))
PY

export ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg
IFS=, read -ra cases <<<"${BENCH_UPGRADE_CASES:-bad_flag,missing_version,broken_version}"
results=()
for case in "${cases[@]}"; do
  case "$case" in
    bad_flag) extra=('{"server_extra_args": ["--disable-access-log-for-endpoints", "/health,/metrics", "--no-such-flag"]}') ;;
    missing_version) extra=('{"server_vllm_version": "9.9.8"}') ;;
    broken_version) extra=('{"server_vllm_version": "9.9.9"}') ;;
    *) die "BENCH_UPGRADE_CASES: unknown case $case (bad_flag, missing_version, broken_version)" ;;
  esac
  out=$WORKDIR/logs/bench-upgrade-$case.json
  state=$WORKDIR/logs/bench-upgrade-$case-state.json
  plan=$WORKDIR/logs/bench-upgrade-$case-plan.json
  caselog=$WORKDIR/logs/bench-upgrade-$case
  rm -f "$out" "$state" "$plan"
  log "case $case (logs: $caselog-*.log)"
  ansible-playbook -i "$inventory" "$REPO_ROOT/benchmarks/bench_upgrade_before.yml" -e "bench_case=$case" \
    -e "bench_state=$state" -e "bench_plan=$plan" >"$caselog-before.log" 2>&1 \
    || { tail -30 "$caselog-before.log"; die "case $case: the load could not be started"; }
  t0=$(date +%s.%N)
  # one line per result (json), so the failure message can be read back from the log
  ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible-playbook -i "$inventory" "$REPO_ROOT/playbooks/rolling_upgrade.yml" \
    -e "@$plan" -e "${extra[0]}" >"$caselog-upgrade.log" 2>&1 && upgrade_rc=0 || upgrade_rc=$?
  t1=$(date +%s.%N)
  # step 2's wall time and the last failure it reported (its rollback message; empty when it passed)
  python3 - "$caselog-upgrade.log" "$upgrade_rc" "$t0" "$t1" >"$caselog-upgrade.json" <<'PY'
import json
import sys
log, rc, t0, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
msgs = [json.loads(line.split('FAILED! => ', 1)[1]).get('msg', '') for line in open(log) if 'FAILED! => {' in line]
message = (msgs[-1] if msgs else 'rc %d without a failed task' % rc) if rc else ''
print(json.dumps({'bench_message': message, 'bench_seconds': round(t1 - t0, 1)}))
PY
  ansible-playbook -i "$inventory" "$REPO_ROOT/benchmarks/bench_upgrade_after.yml" -e "@$state" -e "@$caselog-upgrade.json" \
    -e "bench_case=$case" -e "bench_out=$out" >"$caselog-after.log" 2>&1 \
    || { tail -30 "$caselog-after.log"; die "case $case: the figures could not be read"; }
  results+=("$out")
done
python3 - "${results[@]}" <<'PY'
import json
import sys
bad = []
print('| case | upgrade | seconds | requests ok / failed | instances restarted | serving after | venvs after |')
print('| --- | --- | --- | --- | --- | --- | --- |')
for path in sys.argv[1:]:
    r = json.load(open(path))
    restarted = [u for u, a, b in zip(r['units'], r['pids_before'], r['pids_after']) if a != b]
    print('| %s | %s | %s | %d / %d | %s | vLLM %s (%s) | %s |' % (
        r['case'], 'failed, rolled back' if r['upgrade_failed'] else 'PASSED', r['seconds'], r['load']['ok'],
        r['load']['failed'], ', '.join(u.split('-')[-1].replace('.service', '') for u in restarted) or 'none',
        r['version_after'], ', '.join(r['models']), ', '.join(r['venvs'])))
    if not r['upgrade_failed']:
        bad.append('%s: the upgrade succeeded' % r['case'])
    elif not r['message'].startswith('Upgrade '):
        bad.append('%s: rolling_upgrade.yml failed, but not with its rollback message: %s' % (r['case'], r['message'][:300]))
    if r['load']['failed'] or not r['load']['ok']:
        bad.append('%s: %d failed, %d ok requests (%s)' % (r['case'], r['load']['failed'], r['load']['ok'], r['load']['errors']))
    if not r['record_same'] or r['version_after'] != r['version_before']:
        bad.append('%s: serving vLLM %s after, %s before' % (r['case'], r['version_after'], r['version_before']))
    if any(v.endswith('9.9.8') for v in r['venvs']):
        bad.append('%s: a partial venv is left: %s' % (r['case'], r['venvs']))
    if len(restarted) == len(r['units']) and len(r['units']) > 1:
        bad.append('%s: every instance was restarted: %s' % (r['case'], restarted))
for path in sys.argv[1:]:
    r = json.load(open(path))
    print('%s: %s' % (r['case'], r['message'][:600].replace('\n', ' ')))
if bad:
    print('FAIL: ' + '; '.join(bad))
    sys.exit(1)
print('PASS: every upgrade failed and was rolled back with 0 failed requests through the front, '
      'the previous release serving, no partial venv, never both instances out')
PY
