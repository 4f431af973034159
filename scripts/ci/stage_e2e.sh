#!/usr/bin/env bash
# End to end on a real vLLM CPU service: `make demo` (site.yml against a local
# systemd container), then a rolling upgrade whose gate cannot pass, which must
# roll back and leave the previous deployment serving.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
container=inferops-demo
cleanup() { podman rm -f "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Per-task times in the log (the gate's capacity search is the longest task after the install).
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
DEMO_KEEP=1 "$REPO_ROOT/scripts/demo.sh"
# pass, or inconclusive when the 2 cores starve the load client (the demo accepts it as a warning);
# the front, the host's one network listener, stands for the whole host (scope host); the instance,
# on the container's loopback, is gated from inside the container
grep -qE '\| inferops-demo \| front \| host \| tiny-llama \| (pass|inconclusive) \|' "$WORKDIR/demo-report/fleet.md" \
  || die "the demo's fleet report does not show a served, gated front"
grep -qE '\| inferops-demo \| vllm-node0 \| instance \| tiny-llama \| (pass|inconclusive) \|' "$WORKDIR/demo-report/fleet.md" \
  || die "the demo's fleet report does not show the instance gated from its host"
# The demo gates in mode capacity: the host row carries the host's cost per 1M output tokens at
# the highest rate that met every SLO, from a search with steps (or, when the load client starved
# before any step passed, at the load measured, with a WARNING line).
python3 - "$WORKDIR/demo-report/fleet.json" <<'PY' || die "the demo's fleet report has no cost at capacity ($WORKDIR/demo-report/fleet.json)"
import json
import sys
fleet = json.load(open(sys.argv[1]))
hosts = [r for r in fleet['summary']['rows'] if r['scope'] == 'host']
assert len(hosts) == 1, 'expected one host row, got %r' % fleet['summary']['rows']
row = hosts[0]
result = [r for r in fleet['results'] if r['scope'] == 'host'][0]['result']
cap = result.get('capacity') or {}
steps = cap.get('steps') or []
print('gate: %s; capacity %s req/s, %s output tok/s (limited by %s, ended %s, bracket %s), %d steps, '
      '$%s per 1M output tokens (%s)' % (
          row['verdict'], cap.get('requests_per_s'), cap.get('output_tokens_per_s'), cap.get('limiting_slo'),
          cap.get('ended'), cap.get('bracket'), len(steps), row['cost_per_1m_output_tokens'], row['cost_basis']))
for step in steps:
    print('  step %(step)s: %(rate)s req/s offered, %(achieved_rate)s achieved, TTFT p95 %(ttft_p95_ms)s ms, '
          '%(output_tokens_per_s)s output tok/s, %(requests)s requests, %(verdict)s %(failing)s' % step)
assert result['mode'] == 'capacity', 'the gate ran in mode %s' % result['mode']
assert steps, 'the capacity search has no steps: %r' % cap
client = result.get('client') or {}
if cap.get('requests_per_s') is None and result['verdict'] == 'inconclusive' and client.get('saturated'):
    # The demo's own policy (and molecule's): a search stopped before any step passed because the load
    # client starved on the 2 shared cores is a warning; the host is then charged at the load measured.
    print('WARNING: the capacity search stopped inconclusive before any step passed, the load client starved '
          '(%s): the host is charged at the measured load; cost at capacity not checked in this run'
          % '; '.join(client.get('reasons') or []))
    basis, charged = 'measured load', (result.get('throughput') or {}).get('output_tokens_per_s')
else:
    basis, charged = 'capacity', row['capacity_output_tokens_per_s']
assert row['cost_basis'] == basis, 'the host cost basis is %r, expected %r' % (row['cost_basis'], basis)
assert row['cost_per_1m_output_tokens'] is not None and charged, row
expected = 0.10 / (charged * 3600) * 1e6
assert abs(row['cost_per_1m_output_tokens'] - expected) <= max(1e-6, 1e-4 * expected), (row, expected)
assert fleet['summary']['hosts'][0]['basis'] == basis, fleet['summary']['hosts']
PY

cd "$REPO_ROOT" || exit 1
# Idempotence of what changes the host: a second run of the tuning and deployment plays (site.yml
# without its gate, which only measures) must change nothing.
log "second run of tune.yml and deploy.yml on the demo host: expect changed=0"
rerun=$WORKDIR/logs/e2e-rerun.log
ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ansible-playbook -i inventories/demo playbooks/tune.yml playbooks/deploy.yml \
    -e "inferops_front_port=$DEMO_FRONT_PORT" -e "inferops_base_port=$DEMO_INSTANCE_PORT" >"$rerun" 2>&1 \
  || { tail -40 "$rerun"; die "the second run failed (log: $rerun)"; }
recaps=$(grep -E '^inferops-demo +: ok=' "$rerun")
if echo "$recaps" | grep -vqE ' changed=0 '; then
  grep -E '^(TASK|changed:)' "$rerun" | grep -B1 '^changed:' | tail -20
  die "the second run changed the demo host: $recaps (log: $rerun)"
fi
log "second run: $(echo "$recaps" | tr '\n' ' ')"

log "rolling upgrade to a served name whose gate cannot pass: expect a rollback"
out=$WORKDIR/logs/e2e-upgrade.log
if ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ansible-playbook -i inventories/demo playbooks/rolling_upgrade.yml \
    -e inferops_model_name=tiny-llama-v2 -e validate_on_inconclusive=fail \
    -e "inferops_front_port=$DEMO_FRONT_PORT" -e "inferops_base_port=$DEMO_INSTANCE_PORT" \
    -e '{"validate_slos": {"min_output_tokens_per_s": 1000000, "max_ttft_p95_ms": 3000, "max_error_rate": 0.0}}' \
    >"$out" 2>&1; then
  die "the upgrade passed a gate it cannot pass (log: $out)"
fi
grep -q 'Upgrade rolled back on inferops-demo' "$out" || { tail -40 "$out"; die "no rollback message (log: $out)"; }
# In mode capacity the output tok/s minimum is judged at capacity: it is the SLO that fails.
# A search whose first step was inconclusive because the load client starved (2 cores shared
# with vLLM and other jobs) has no capacity to judge it at: the gate is inconclusive, which
# validate_on_inconclusive=fail also rolls back; say so rather than fail on the missing name.
if grep -q 'throughput gate INCONCLUSIVE' "$out" && grep -q 'the client was the bottleneck' "$out" \
    && ! grep -q 'throughput gate FAILED' "$out"; then
  log "WARNING: the upgrade's gate was inconclusive (the load client starved), so no SLO was judged at capacity; the rollback is still checked"
else
  grep -q 'min_output_tokens_per_s' "$out" || die "the failure does not name the missed SLO (log: $out)"
fi
if grep -q 'needs a latency SLO' "$out"; then die "the gate refused its input instead of measuring (log: $out)"; fi

# The key goes to curl on stdin (a config file), never on its command line.
key_file=${INFEROPS_DEMO_API_KEY_FILE:-$WORKDIR/demo-api-key}
front() { printf 'header = "Authorization: Bearer %s"\n' "$(cat "$key_file")" | curl -K - -sf "$@"; }
front_url=http://127.0.0.1:$DEMO_FRONT_PORT
code=$(curl -s -o /dev/null -w '%{http_code}' "$front_url/v1/models") || true
[ "$code" = 401 ] || die "the front answered /v1/models without the key with $code, not 401"
models=$(front "$front_url/v1/models") || die "nothing serves on the front $front_url after the rollback"
echo "$models" | grep -q '"id":"tiny-llama"' || die "the previous model is not served after the rollback: $models"
if echo "$models" | grep -q 'tiny-llama-v2'; then die "the failed version still serves: $models"; fi
reply=$(front "$front_url/v1/completions" -H 'content-type: application/json' \
  -d '{"model": "tiny-llama", "prompt": "def main", "max_tokens": 8, "ignore_eos": true}') \
  || die "the rolled-back service does not answer completions"
echo "$reply" | grep -q '"completion_tokens":8' || die "unexpected completion: $reply"
podman exec "$container" grep -q '"model_name": "tiny-llama"' /etc/inferops-vllm/deployed.json \
  || die "deployed.json does not record the restored deployment"
log "rollback verified: tiny-llama serves again, tiny-llama-v2 does not"
