#!/usr/bin/env bash
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Real-hardware evidence for the collection's NVIDIA path, in about two minutes, without vLLM:
#   1. raw output of every nvidia-smi command line nvidia.py / telemetry.py run (exactly those arguments,
#      LC_ALL=C as the modules run them), nvidia-smi -q, nvidia-smi topo -m, lscpu, python/torch versions,
#      ls /sys/class/powercap                                                          -> raw.tar.gz
#   2. the sysfs/procfs files topology.py and nvidia.py read (make_sysfs.py --record), plus the powercap,
#      numastat and PCI files telemetry reads                                         -> sysfs.tar.gz
#   3. the collection's module_utils on this host (tests/device/gpu_facts.py): GPUs parsed and joined to
#      their NUMA node, an NVIDIA instance plan, telemetry sampled while a bf16 matmul loop keeps the GPU
#      busy for part of the window                               -> facts.json, telemetry.json
#   4. the modules themselves when ansible is importable (INFEROPS_ANSIBLE_PYLIB)      -> modules.json
# Each part logs its error and the script goes on; it exits 0. summary.txt holds the log.
#
# Knobs: OUT (default /tmp/gpu-facts), INFEROPS_FACTS_MODEL (a model directory for the plan, e.g. the tiny
# Llama), INFEROPS_ANSIBLE_PYLIB (a directory holding the ansible package), INFEROPS_PYTHON (default python3),
# INFEROPS_FACTS_DURATION_S (telemetry window, default 30).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/gpu-facts}
PY=${INFEROPS_PYTHON:-python3}
DURATION=${INFEROPS_FACTS_DURATION_S:-30}
MODEL=${INFEROPS_FACTS_MODEL:-}
WORK=$(mktemp -d /tmp/inferops-facts.XXXXXX)
mkdir -p "$OUT" "$WORK/raw" "$WORK/sysfs"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
T0=$(date +%s)

log() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*" | tee -a "$SUMMARY"; }

# The collection as ansible_collections.inferops.vllm, whatever the checkout's directory is called.
COLL=$WORK/coll
mkdir -p "$COLL/ansible_collections/inferops"
ln -sfn "$ROOT" "$COLL/ansible_collections/inferops/vllm"
export PYTHONPATH=$COLL${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
FACTS_PY=$COLL/ansible_collections/inferops/vllm/tests/device/gpu_facts.py

# record NAME CMD...: stdout, stderr and rc of one command under raw/ (never fails)
record() {
    local name=$1
    shift
    printf '%s\n' "$*" >"$WORK/raw/$name.cmd"
    timeout 60 "$@" >"$WORK/raw/$name.out" 2>"$WORK/raw/$name.err"
    local rc=$?
    echo "$rc" >"$WORK/raw/$name.rc"
    log "raw $name: rc $rc, $(wc -c <"$WORK/raw/$name.out") bytes"
}

part1_raw() {
    log "part 1: raw command outputs"
    local cmds name tail
    cmds=$("$PY" "$FACTS_PY" commands 2>"$WORK/raw/commands.err") || {
        log "gpu_facts.py commands failed ($(head -c 300 "$WORK/raw/commands.err")); using the arguments known at writing"
        cmds=$(printf '%s\n' \
            'query-gpu --query-gpu=index,uuid,name,memory.total,pci.bus_id,driver_version,persistence_mode --format=csv,noheader,nounits' \
            'version --version' 'banner ' \
            'power-query --query-gpu=index,power.draw --format=csv,noheader,nounits')
    }
    while read -r name tail; do
        [ -n "$name" ] || continue
        # shellcheck disable=SC2086  # the arguments hold no spaces; splitting them is the point
        record "nvidia-smi_$name" env LC_ALL=C nvidia-smi $tail
    done <<<"$cmds"
    record nvidia-smi_q nvidia-smi -q
    record nvidia-smi_topo-m nvidia-smi topo -m
    record nvidia-smi_L nvidia-smi -L
    record lscpu lscpu
    record uname uname -a
    record python-version "$PY" -c 'import sys, platform; print(sys.version); print(platform.platform())'
    record torch-version "$PY" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
    record ls-powercap ls -la /sys/class/powercap/
    record ls-pci-devices ls -la /sys/bus/pci/devices/
    record ls-node ls /sys/devices/system/node/
    record proc-self-cgroup cat /proc/self/cgroup
    (cd "$WORK" && tar -czf "$OUT/raw.tar.gz" raw) || log "tar of raw/ failed"
}

part2_sysfs() {
    log "part 2: sysfs/procfs files topology.py and nvidia.py read"
    "$PY" "$ROOT/tests/fixtures/make_sysfs.py" --record h200 --out "$WORK/sysfs" >>"$SUMMARY" 2>&1 \
        || log "make_sysfs.py --record failed (rc $?)"
    # what telemetry.py reads (powercap zones, numastat) and the PCI files around the GPU, for reference
    local extra=$WORK/sysfs/h200-extra f d
    mkdir -p "$extra"
    for f in /sys/class/powercap/*/name /sys/class/powercap/*/energy_uj /sys/class/powercap/*/max_energy_range_uj \
             /sys/devices/system/node/node*/numastat /sys/bus/pci/devices/*/local_cpulist \
             /sys/bus/pci/devices/*/current_link_speed /sys/bus/pci/devices/*/current_link_width; do
        [ -e "$f" ] || continue
        d=$extra$(dirname "$f" | tr ':' '_')
        mkdir -p "$d" && cat "$f" >"$d/$(basename "$f")" 2>/dev/null || echo "unreadable: $f" >>"$extra/unreadable.txt"
    done
    (cd "$WORK/sysfs" && find . -type f | sort >"$WORK/sysfs/FILES.txt" && tar -czf "$OUT/sysfs.tar.gz" .) \
        || log "tar of the sysfs recording failed"
    log "sysfs files recorded: $(wc -l <"$WORK/sysfs/FILES.txt" 2>/dev/null || echo 0)"
}

part3_facts() {
    log "part 3a: module_utils facts (topology, nvidia facts with NUMA join, plan)"
    timeout 120 "$PY" "$FACTS_PY" facts --out "$OUT" ${MODEL:+--model-path "$MODEL"} 2>&1 | tee -a "$SUMMARY"
    log "part 3a rc ${PIPESTATUS[0]}"
    log "part 3b: telemetry for ${DURATION}s with a bf16 matmul loop in the middle"
    timeout $((DURATION + 150)) "$PY" "$FACTS_PY" telemetry --out "$OUT" --work "$WORK" --duration "$DURATION" \
        --busy-after "$(((DURATION * 27 + 50) / 100))" --busy-s "$(((DURATION * 40 + 50) / 100))" 2>&1 | tee -a "$SUMMARY"
    log "part 3b rc ${PIPESTATUS[0]}"
}

part4_modules() {
    log "part 4: the modules (cpu_topology, nvidia_gpu_info, instance_plan, host_telemetry)"
    PYTHONPATH=${INFEROPS_ANSIBLE_PYLIB:+$INFEROPS_ANSIBLE_PYLIB:}$PYTHONPATH \
        timeout 240 "$PY" "$FACTS_PY" modules --out "$OUT" ${MODEL:+--model-path "$MODEL"} 2>&1 | tee -a "$SUMMARY"
    log "part 4 rc ${PIPESTATUS[0]}"
}

log "run_gpu_facts.sh in $ROOT, OUT=$OUT, python $("$PY" -V 2>&1), model ${MODEL:-none}"
part1_raw || log "part 1 failed"
part2_sysfs || log "part 2 failed"
part3_facts || log "part 3 failed"
part4_modules || log "part 4 failed"
rm -rf "$WORK"
log "done; files in $OUT: $(cd "$OUT" && printf '%s ' *)"
exit 0
