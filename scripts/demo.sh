#!/usr/bin/env bash
# The one-command demo (`make demo`): set up what is missing, start a local
# systemd container as the target host, and run playbooks/site.yml against it
# end to end (plan, tuning, vLLM CPU service, throughput gate), then print the
# fleet report. DEMO_KEEP=0 removes the container at the end.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/ci/common.sh"
CI_DIR=$REPO_ROOT/scripts/ci
container=${DEMO_CONTAINER:-inferops-demo}
start=$(date +%s)

"$CI_DIR/setup_host.sh"
"$CI_DIR/build_images.sh"
"$CI_DIR/setup_venv.sh"
"$CI_DIR/setup_vllm.sh"

log "starting the target host: container $container"
podman rm -f "$container" >/dev/null 2>&1 || true
# Privileged: systemd's sandboxing of the vLLM unit needs namespaces. The
# planned ports (instances from 8100, front 8000) are published on loopback
# only, where the gate (run from this controller) reaches them.
podman run -d --name "$container" --hostname "$container" --systemd=always --privileged \
  --shm-size=2g -v "$WORKDIR/wheelhouse:/srv/wheelhouse:ro" \
  -p 127.0.0.1:8000:8000 -p 127.0.0.1:8100-8103:8100-8103 \
  "$IMAGE_DEBIAN12" /sbin/init >/dev/null
for _ in $(seq 1 30); do
  state=$(podman exec "$container" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done

cd "$REPO_ROOT" || exit 1
rc=0
ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ansible-playbook -i inventories/demo playbooks/site.yml "$@" || rc=$?

report=$WORKDIR/demo-report/fleet.md
if [ -f "$report" ]; then
  echo
  cat "$report"
fi
elapsed=$(( $(date +%s) - start ))
if [ "$rc" -eq 0 ]; then
  log "demo passed in ${elapsed}s. The host keeps serving: curl -s http://127.0.0.1:8100/v1/models"
else
  log "demo FAILED (rc=$rc) after ${elapsed}s"
fi
if [ "${DEMO_KEEP:-1}" = 0 ]; then
  podman rm -f "$container" >/dev/null
else
  log "remove the demo host with: podman rm -f $container"
fi
exit "$rc"
