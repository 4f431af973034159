#!/usr/bin/env bash
# make bench-upgrade: upgrades that must fail, on the 2-instance host, under load through the front.
# 1. molecule's vllm_cpu_systemd host (two single-core vLLM CPU instances behind the role's HAProxy
#    front) is created and converged as the scenario deploys it; BENCH_REUSE_HOST=1 converges a host
#    that is already up.
# 2. For each case, benchmarks/bench_upgrade.yml runs what playbooks/rolling_upgrade.yml runs for a
#    batch (the server role; on failure the restore of the release snapshotted before it) while
#    molecule's front_load.py sends completions through the front, then reads what serves:
#      bad_flag         server_extra_args with a flag vLLM rejects
#      missing_version  server_vllm_version that the wheelhouse does not have (pip fails)
#      broken_version   server_vllm_version given with -e whose venv is there but cannot start
#    and prints, per case: failed/ok requests, which instances were restarted, the version serving
#    after, partial venvs. It fails unless every case failed the upgrade, kept the previous
#    release serving with 0 failed requests, and left no partial venv.
# (rolling_upgrade.yml itself plans from the host's topology: one instance per NUMA node, so on
# this one-node machine it deploys one instance; this host has two by its converge playbook.)
# BENCH_UPGRADE_CASES (comma-separated) picks cases. KEEP=1 keeps the host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
scenario=vllm_cpu_systemd
container=vllm-cpu-systemd
mkdir -p "$WORKDIR/logs"
# shellcheck source=benchmarks/molecule_host.sh
source "$REPO_ROOT/benchmarks/molecule_host.sh"
converge_molecule_host "$scenario" "$WORKDIR/logs/bench-upgrade-converge.log"

# The scenario's group_vars (its server_* settings) as an inventory for the container.
inventory=$WORKDIR/logs/bench-upgrade-inventory.yml
python3 - "$REPO_ROOT/molecule/$scenario/molecule.yml" "$inventory" "$container" <<'PY'
import os
import re
import sys
import yaml
src, dest, host = sys.argv[1:4]
text = re.sub(r'\$\{(\w+):-([^}]*)\}', lambda m: os.environ.get(m.group(1)) or m.group(2), open(src).read())
group_vars = yaml.safe_load(text)['provisioner']['inventory']['group_vars']['all']
inv = {'all': {'hosts': {host: {'ansible_connection': 'containers.podman.podman'}}, 'vars': group_vars}}
open(dest, 'w').write(yaml.safe_dump(inv))
PY

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
  rm -f "$out"
  log "case $case (log: $WORKDIR/logs/bench-upgrade-$case.log)"
  ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ansible-playbook -i "$inventory" "$REPO_ROOT/benchmarks/bench_upgrade.yml" \
    -e "bench_case=$case" -e "bench_out=$out" -e "${extra[0]}" >"$WORKDIR/logs/bench-upgrade-$case.log" 2>&1 \
    || { tail -30 "$WORKDIR/logs/bench-upgrade-$case.log"; die "case $case: the bench playbook failed"; }
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
