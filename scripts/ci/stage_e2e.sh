#!/usr/bin/env bash
# End to end on a real vLLM CPU service: `make demo` (site.yml against a local
# systemd container), then a rolling upgrade whose gate cannot pass, which must
# roll back and leave the previous deployment serving.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
container=inferops-demo
cleanup() { podman rm -f "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT

DEMO_KEEP=1 "$REPO_ROOT/scripts/demo.sh"
# pass, or inconclusive when the 2 cores starve the load client (the demo accepts it as a warning)
grep -qE '\| inferops-demo \| vllm-node0 \| tiny-llama \| (pass|inconclusive) \|' "$WORKDIR/demo-report/fleet.md" \
  || die "the demo's fleet report does not show a served, gated endpoint"

log "rolling upgrade to a served name whose gate cannot pass: expect a rollback"
cd "$REPO_ROOT" || exit 1
out=$WORKDIR/logs/e2e-upgrade.log
if ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ansible-playbook -i inventories/demo playbooks/rolling_upgrade.yml \
    -e inferops_model_name=tiny-llama-v2 -e validate_on_inconclusive=fail \
    -e '{"validate_slos": {"min_output_tokens_per_s": 1000000}}' >"$out" 2>&1; then
  die "the upgrade passed a gate it cannot pass (log: $out)"
fi
grep -q 'Upgrade rolled back on inferops-demo' "$out" || { tail -40 "$out"; die "no rollback message (log: $out)"; }
grep -q 'min_output_tokens_per_s' "$out" || die "the failure does not name the missed SLO (log: $out)"

models=$(curl -sf http://127.0.0.1:8100/v1/models) || die "nothing serves on 8100 after the rollback"
echo "$models" | grep -q '"id":"tiny-llama"' || die "the previous model is not served after the rollback: $models"
if echo "$models" | grep -q 'tiny-llama-v2'; then die "the failed version still serves: $models"; fi
reply=$(curl -sf http://127.0.0.1:8100/v1/completions -H 'content-type: application/json' \
  -d '{"model": "tiny-llama", "prompt": "def main", "max_tokens": 8, "ignore_eos": true}') \
  || die "the rolled-back service does not answer completions"
echo "$reply" | grep -q '"completion_tokens":8' || die "unexpected completion: $reply"
podman exec "$container" grep -q '"model_name": "tiny-llama"' /etc/inferops-vllm/deployed.json \
  || die "deployed.json does not record the restored deployment"
log "rollback verified: tiny-llama serves again, tiny-llama-v2 does not"
