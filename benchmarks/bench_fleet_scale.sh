#!/usr/bin/env bash
# make bench-fleet: does site.yml fan out? Runs playbooks/site.yml end to end against one fresh
# systemd container, then against four fresh containers at once (inventories/scale, forks >= 4),
# and compares the wall times. Every host really installs vLLM CPU from the one wheelhouse of the
# controller (mounted read-only, nothing downloaded per host), gets the model, the tuning, the
# service and its own throughput gate; the fleet report must list every host with a verdict
# (pass, or inconclusive when the shared cores starve the load client, which the inventory
# accepts as a warning, as the demo does).
#
# Exit status 0 when both runs passed, the report is complete and
#   wall(4 hosts) / wall(1 host) <= BENCH_FLEET_MAX_RATIO (default 2.0);
# 1 otherwise. The containers (inferops-scale-*) are removed at the end.
#
# Environment: BENCH_FLEET_MAX_RATIO (2.0), BENCH_FLEET_FORKS (4, at least 4),
# BENCH_FLEET_OUT (directory for logs, load samples and reports; default
# $INFEROPS_WORKDIR/bench-fleet). Extra arguments go to both ansible-playbook runs.
# shellcheck source=scripts/ci/common.sh disable=SC1091  # followed with shellcheck -x from the repo root
source "$(dirname "$0")/../scripts/ci/common.sh"
CI_DIR=$REPO_ROOT/scripts/ci
max_ratio=${BENCH_FLEET_MAX_RATIO:-2.0}
forks=${BENCH_FLEET_FORKS:-4}
out=${BENCH_FLEET_OUT:-$WORKDIR/bench-fleet}
inventory=$REPO_ROOT/inventories/scale
hosts=(inferops-scale-1 inferops-scale-2 inferops-scale-3 inferops-scale-4)
[ "$forks" -ge 4 ] || die "BENCH_FLEET_FORKS must be at least 4 (the four hosts run at once), got $forks"

sampler=
wall_1=0 wall_4=0 rc_1=1 rc_4=1 cpu_1=0 cpu_4=0 own_1=0 own_4=0  # set by run_site
ncpu=$(nproc)
# Busy CPU time of the whole machine so far, in seconds (/proc/stat: user, nice, system, irq, softirq).
busy_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.1f", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat; }
remove_hosts() {
  local h
  for h in "${hosts[@]}"; do podman rm -f -t 10 "$h" >/dev/null 2>&1 || true; done
}
cleanup() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  remove_hosts
}
trap cleanup EXIT

"$CI_DIR/setup_host.sh"
"$CI_DIR/build_images.sh"
"$CI_DIR/setup_venv.sh"
"$CI_DIR/setup_vllm.sh"
rm -rf "$out"
mkdir -p "$out"

# CPU seconds a container has used since it started, from its cgroup (v1 cpuacct or v2 cpu.stat).
container_cpu_s() {
  local id dir
  id=$(podman inspect -f '{{.Id}}' "$1") || { echo 0; return; }
  dir=$(find /sys/fs/cgroup -maxdepth 4 -type d \( -name "libpod-$id" -o -name "libpod-$id.scope" \) \
        \( -path '*cpuacct*' -o -path '*unified*' -o -path '/sys/fs/cgroup/machine.slice/*' \) 2>/dev/null | sort | head -1)
  if [ -f "$dir/cpuacct.usage" ]; then awk '{ printf "%.1f", $1 / 1e9 }' "$dir/cpuacct.usage"
  elif [ -f "$dir/cpu.stat" ]; then awk '$1 == "usage_usec" { printf "%.1f", $2 / 1e6 }' "$dir/cpu.stat"
  else echo 0; fi
}

# start_hosts N: N fresh containers from the base image (no vLLM inside), as demo.sh starts its one.
start_hosts() {
  local n=$1 h i state
  remove_hosts
  for h in "${hosts[@]:0:n}"; do
    podman run -d --name "$h" --hostname "$h" --systemd=always --privileged \
      --shm-size=2g -v "$WORKDIR/wheelhouse:/srv/wheelhouse:ro" \
      "$IMAGE_DEBIAN12" /sbin/init >/dev/null
  done
  for h in "${hosts[@]:0:n}"; do
    for i in $(seq 1 60); do
      state=$(podman exec "$h" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      [ "$i" -lt 60 ] || die "$h did not boot (systemd: $state)"
      sleep 1
    done
  done
}

# run_site N: site.yml against the first N hosts; sets wall_N (seconds, 0.1 s) and rc_N.
run_site() {
  local n=$1 limit t0 t1 c0 c1 h ctl hosts_cpu=0 rc=0
  limit=$(IFS=,; echo "${hosts[*]:0:n}")
  log "site.yml against $n host(s) ($limit), forks $forks; log: $out/site-$n.log"
  (while :; do printf '%s %s\n' "$(date +%s)" "$(cut -d' ' -f1-3 /proc/loadavg)"; sleep 5; done) \
    >"$out/load-$n.txt" &
  sampler=$!
  c0=$(busy_s)
  t0=$(date +%s.%N)
  # `time` reports the CPU of ansible-playbook and everything it waited for (forks, podman exec
  # clients, the gate's load client): the controller's share.
  { TIMEFORMAT='%U %S'
    time ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks \
      PROFILE_TASKS_TASK_OUTPUT_LIMIT=all \
      ansible-playbook -i "$inventory" "$REPO_ROOT/playbooks/site.yml" --limit "$limit" --forks "$forks" \
      -e "validate_report_dir=$out/report-$n" "${@:2}" >"$out/site-$n.log" 2>&1 || rc=$?
  } 2>"$out/controller-cpu-$n.txt"
  t1=$(date +%s.%N)
  c1=$(busy_s)
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sampler=
  printf -v "wall_$n" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  printf -v "rc_$n" '%s' "$rc"
  printf -v "cpu_$n" '%s' "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.0f", b - a }')"
  ctl=$(awk 'NF == 2 { printf "%.0f", $1 + $2 }' "$out/controller-cpu-$n.txt")
  for h in "${hosts[@]:0:n}"; do
    hosts_cpu=$(awk -v a="$hosts_cpu" -v b="$(container_cpu_s "$h")" 'BEGIN { printf "%.0f", a + b }')
  done
  printf -v "own_$n" '%s' "$((${ctl:-0} + hosts_cpu))"
  local wall_var="wall_$n" cpu_var="cpu_$n"
  log "site.yml on $n host(s): rc=$rc in ${!wall_var} s; CPU-seconds: ${ctl:-?} controller + $hosts_cpu hosts;" \
    "the whole machine (with any other work on it) ${!cpu_var} busy on $ncpu cores" \
    "($(awk -v c="${!cpu_var}" -v w="${!wall_var}" -v n="$ncpu" 'BEGIN { printf "%.0f", 100 * c / (w * n) }')%)"
  [ "$rc" -eq 0 ] || grep -E '^(fatal|failed):|FAILED' "$out/site-$n.log" | tail -20 >&2 || true
}

# check_report N: fleet.md lists each of the first N hosts with a passing (or inconclusive) verdict.
check_report() {
  local n=$1 h report=$out/report-$1/fleet.md ok=0
  [ -f "$report" ] || { log "no fleet report at $report"; return 1; }
  for h in "${hosts[@]:0:n}"; do
    if grep -qE "^\| $h \| [^|]+ \| [^|]+ \| (pass|inconclusive) \|" "$report"; then
      ok=$((ok + 1))
    else
      log "fleet report: no passing row for $h"
    fi
  done
  log "fleet report ($n host(s)): $ok of $n hosts listed with a passing verdict"
  [ "$ok" -eq "$n" ]
}

failed=0
start_hosts 1
run_site 1 "$@"
check_report 1 || failed=1
[ "$rc_1" -eq 0 ] || failed=1
[ "$failed" -eq 0 ] || die "the one-host run failed; no comparison (logs in $out)"

start_hosts 4
run_site 4 "$@"
check_report 4 || failed=1
[ "$rc_4" -eq 0 ] || failed=1

# Where the time went: the slowest tasks of each run (profile_tasks; a task of the four-host
# run lasts until its slowest host is done), and the load average during each run.
python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def tasks(n):
    rows, seen = {}, False
    for line in open(f"{out}/site-{n}.log", encoding="utf-8", errors="replace"):
        if re.match(r"^=+\s*$", line):
            seen = True
            continue
        m = re.match(r"^(.*?) -+ (\d+\.\d+)s\s*$", line) if seen else None
        if m:
            rows[m.group(1).strip()] = rows.get(m.group(1).strip(), 0.0) + float(m.group(2))
    return rows
def load(n):
    vals = [float(l.split()[1]) for l in open(f"{out}/load-{n}.txt") if len(l.split()) >= 2]
    return (min(vals), sum(vals) / len(vals), max(vals)) if vals else (0, 0, 0)
one, four = tasks(1), tasks(4)
print("\nslowest tasks (s): 1 host | 4 hosts")
for name in sorted(set(one) | set(four), key=lambda k: -max(one.get(k, 0), four.get(k, 0)))[:12]:
    print(f"  {one.get(name, 0):7.1f} | {four.get(name, 0):7.1f}  {name[:100]}")
for n in (1, 4):
    lo, mean, hi = load(n)
    print(f"load average (1 min) during the {n}-host run: min {lo:.2f}, mean {mean:.2f}, max {hi:.2f}")
PY

ratio=$(awk -v a="$wall_4" -v b="$wall_1" 'BEGIN { printf "%.2f", a / b }')
echo
echo "site.yml wall time: 1 host ${wall_1} s, 4 hosts ${wall_4} s, ratio ${ratio} (limit ${max_ratio})"
# With every host on this one machine, the run's own CPU time bounds the four-host run from below:
# its CPU-seconds spread over all cores, however well Ansible fans out.
echo "CPU-seconds of the runs themselves (controller + containers): 1 host ${own_1}, 4 hosts ${own_4};" \
  "machine busy (any work): ${cpu_1} and ${cpu_4}, on ${ncpu} cores"
echo "CPU-bound floor of the ratio on this machine: $(awk -v c="$own_4" -v n="$ncpu" -v w="$wall_1" 'BEGIN { printf "%.2f", c / n / w }')" \
  "(4-host CPU-seconds / $ncpu cores / 1-host wall time)"
echo "fleet report (4 hosts): $out/report-4/fleet.md"
sed -n '/^| host/,/^$/p' "$out/report-4/fleet.md" 2>/dev/null || true
printf '{"wall_1_s": %s, "wall_4_s": %s, "ratio": %s, "max_ratio": %s, "forks": %s, "cpus": %s, "cpu_busy_1_s": %s, "cpu_busy_4_s": %s, "cpu_own_1_s": %s, "cpu_own_4_s": %s, "rc_1": %s, "rc_4": %s}\n' \
  "$wall_1" "$wall_4" "$ratio" "$max_ratio" "$forks" "$ncpu" "$cpu_1" "$cpu_4" "$own_1" "$own_4" "$rc_1" "$rc_4" >"$out/bench-fleet.json"
if awk -v r="$ratio" -v m="$max_ratio" 'BEGIN { exit !(r > m) }'; then
  log "FAIL: four hosts took ${ratio}x the time of one (limit ${max_ratio}x)"
  failed=1
fi
[ "$failed" -eq 0 ] || die "bench-fleet failed (logs in $out)"
log "bench-fleet passed: ratio ${ratio} <= ${max_ratio}"
