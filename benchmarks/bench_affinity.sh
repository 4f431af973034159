#!/usr/bin/env bash
# make bench-affinity: the front's session affinity vs least connections on the 2-instance host.
# 1. molecule's vllm_cpu_systemd host (two single-core vLLM CPU instances behind the role's HAProxy
#    front) is created and converged as the scenario deploys it; BENCH_REUSE_HOST=1 converges a host
#    that is already up.
# 2. benchmarks/bench_affinity.py sends the agentic profile through the front with the role's
#    configuration and with least connections only, in alternating rounds, and compares prefix-cache
#    hit rates and later-turn TTFT.
# Extra arguments go to bench_affinity.py (e.g. --rounds 5 --rate 0.3). KEEP=1 keeps the host.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/../scripts/ci/common.sh"
scenario=vllm_cpu_systemd
container=vllm-cpu-systemd
mkdir -p "$WORKDIR/logs"
# shellcheck source=benchmarks/molecule_host.sh
source "$REPO_ROOT/benchmarks/molecule_host.sh"
converge_molecule_host "$scenario" "$WORKDIR/logs/bench-affinity-converge.log"
python3 "$REPO_ROOT/benchmarks/bench_affinity.py" --container "$container" \
  --json "$WORKDIR/logs/bench-affinity.json" "$@"
