# inferops.vllm developer entry points. `make test` is what CI runs.
SHELL := /bin/bash
CI := scripts/ci
SCENARIO ?=

.PHONY: help demo bench-server bench-faults bench-upgrade bench-fleet bench-client bench-gate bench-vs-vllm bench-profiles bench-affinity setup setup-host images venv vllm-assets test lint sanity unit integration importer changelog e2e molecule clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

demo:  ## the one-command demo: a local systemd host, site.yml end to end, fleet report
	scripts/demo.sh

setup: setup-host images venv vllm-assets  ## everything the tests need (host packages, images, venv, vLLM assets)
setup-host:  ## podman, runc, debootstrap and podman configuration
	$(CI)/setup_host.sh
images:  ## Debian 12 and 13 systemd base images (skipped when present)
	$(CI)/build_images.sh
venv:  ## test venv, dependency collections, ansible-test offline bootstrap
	$(CI)/setup_venv.sh
vllm-assets: venv  ## wheelhouse, controller vLLM venv, tiny model
	$(CI)/setup_vllm.sh

test:  ## every stage: changelog, lint, sanity, unit, galaxy-importer, molecule
	$(CI)/run_tests.sh all
lint:  ## ansible-lint, production profile
	$(CI)/run_tests.sh lint
sanity:  ## ansible-test sanity (offline)
	$(CI)/run_tests.sh sanity
unit:  ## pytest unit tests
	$(CI)/run_tests.sh unit
integration:  ## pytest integration tests (AAP packaging, ansible-runner example)
	$(CI)/run_tests.sh integration
importer:  ## build the tarball and run galaxy-importer on it
	$(CI)/run_tests.sh importer
changelog:  ## lint changelog fragments
	$(CI)/run_tests.sh changelog
e2e:  ## demo end to end, then a rolling upgrade that must roll back
	$(CI)/run_tests.sh e2e
molecule:  ## molecule scenarios (all, or SCENARIO=name)
	$(CI)/run_tests.sh molecule $(SCENARIO)

bench-server:  ## deployed service vs plain vllm serve, same host, model and load
	benchmarks/bench_server.sh

# env: BENCH_FAULTS_HOST=demo|quadlet (the demo's systemd services, or molecule's vllm_cpu_podman quadlet host),
# BENCH_FAULTS_ARGS (extra bench_faults.py arguments, e.g. --runs 3 --cases main,oom), BENCH_REUSE_HOST=1, KEEP=1.
bench-faults:  ## each fault (API server, engine core, worker SIGKILL; OOM kill) 5 times in a row, systemd or quadlet: time to serving
	benchmarks/bench_faults.sh $${BENCH_FAULTS_ARGS:-}

# env: BENCH_UPGRADE_CASES (bad_flag,missing_version,broken_version), BENCH_REUSE_HOST=1, KEEP=1.
bench-upgrade:  ## upgrades that must fail (bad flag, missing version, broken version by -e) on the 2-instance host under load: 0 failed requests
	benchmarks/bench_upgrade.sh

bench-fleet:  ## site.yml on 1 host, then on 4 hosts at once: wall-time ratio (fails above 2.0)
	benchmarks/bench_fleet_scale.sh

# GuideLLM's venv (~1.5 GB, CPU torch) is built once by setup_guidellm.sh and reused;
# env: GUIDELLM_VENV (dir), BENCH_CLIENT_ARGS (extra bench_client.py arguments, e.g. --duration 20).
bench-client:  ## the gate's load engine vs GuideLLM on a fake server (fails below 1500 req/s per client core or 20x GuideLLM)
	source $(CI)/common.sh && mkdir -p "$$WORKDIR/logs" && gl="$${GUIDELLM_VENV:-$$WORKDIR/guidellm-venv}" && \
	benchmarks/setup_guidellm.sh "$$gl" && \
	python3 benchmarks/bench_client.py --guidellm-venv "$$gl" --json "$$WORKDIR/logs/bench-client.json" $${BENCH_CLIENT_ARGS:-}

# env: BENCH_GATE_ARGS (extra bench_gate_engine.py arguments, e.g. --capacity-budget-s 50).
bench-gate:  ## the gate's engine on a fake server of known capacity: capacity search, coordinated omission, stalls
	source $(CI)/common.sh && mkdir -p "$$WORKDIR/logs" && \
	python3 benchmarks/bench_gate_engine.py --json "$$WORKDIR/logs/bench-gate.json" $${BENCH_GATE_ARGS:-}

# env: BENCH_VS_ARGS (extra bench_gate_vs_vllm_bench.py arguments, e.g. --rounds 3 --priority -15).
bench-vs-vllm:  ## the gate vs `vllm bench serve` on the real vLLM CPU server: output tok/s, TTFT p50/p95, TPOT p50 within 10%
	source $(CI)/common.sh && mkdir -p "$$WORKDIR/logs" && \
	python3 benchmarks/bench_gate_vs_vllm_bench.py --rounds 5 --pin --json "$$WORKDIR/logs/bench-vs-vllm.json" $${BENCH_VS_ARGS:-}

# env: BENCH_AFFINITY_ARGS (extra bench_affinity.py arguments, e.g. --rounds 5 --rate 0.3), BENCH_REUSE_HOST=1, KEEP=1.
bench-affinity:  ## agentic profile on the 2-instance host: the front's session affinity vs leastconn (hit rate, later-turn TTFT)
	benchmarks/bench_affinity.sh $${BENCH_AFFINITY_ARGS:-}

# env: BENCH_PROFILES_ARGS (extra bench_profiles.py arguments, e.g. --profiles agentic,chat --budget-s 60).
bench-profiles:  ## every built-in workload profile on the real vLLM CPU server: capacity at its SLOs, cost per 1M (<= 15 min)
	source $(CI)/common.sh && mkdir -p "$$WORKDIR/logs" && \
	python3 benchmarks/bench_profiles.py --json "$$WORKDIR/logs/bench-profiles.json" $${BENCH_PROFILES_ARGS:-}

clean:  ## remove build output (keeps venv and images)
	rm -rf tests/output /var/tmp/inferops-vllm/build /var/tmp/inferops-vllm/sanity
