#!/usr/bin/env bash
# The one-command demo (`make demo`): set up what is missing, start a local
# systemd container as the target host, and run playbooks/site.yml against it
# end to end (plan, tuning, vLLM CPU service, throughput gate), then print the
# fleet report. DEMO_KEEP=0 removes the container at the end; a failed demo
# removes it unless DEMO_KEEP_FAILED=1 (to debug it).
# Ports: the front on DEMO_PORT_BASE (default 8000), the instances from
# DEMO_PORT_BASE + 100 (up to 4), published on loopback; DEMO_PORT_BASE=9000
# moves them all when they are busy.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/ci/common.sh"
CI_DIR=$REPO_ROOT/scripts/ci
container=${DEMO_CONTAINER:-inferops-demo}
start=$(date +%s)
ports=("$DEMO_FRONT_PORT")
for i in $(seq 0 $((DEMO_INSTANCE_SLOTS - 1))); do ports+=($((DEMO_INSTANCE_PORT + i))); done

# The previous demo host holds these ports: it is replaced anyway.
if podman container exists "$container" 2>/dev/null; then
  log "removing the previous demo host: container $container"
  podman rm -f "$container" >/dev/null
fi
# Before anything is created: a busy port would fail the demo half-way.
if ! busy=$("$PYTHON" "$REPO_ROOT/scripts/demo_ports.py" "${ports[@]}"); then
  log "the demo needs ports ${ports[*]} on 127.0.0.1 (front $DEMO_FRONT_PORT, instances from $DEMO_INSTANCE_PORT):"
  printf '  %s\n' "$busy" >&2
  die "free them, or move the demo's ports with DEMO_PORT_BASE (front on it, instances from it + 100), e.g. DEMO_PORT_BASE=$((DEMO_PORT_BASE + 1000)) make demo"
fi

rc=1
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ "$rc" -ne 0 ] && [ "${DEMO_KEEP_FAILED:-0}" != 1 ]; then
    podman rm -f "$container" >/dev/null 2>&1 || true
    log "removed the demo host $container (DEMO_KEEP_FAILED=1 keeps a failed one)"
  fi
}
trap cleanup EXIT

"$CI_DIR/setup_host.sh"
"$CI_DIR/build_images.sh"
"$CI_DIR/setup_venv.sh"
"$CI_DIR/setup_vllm.sh"

log "starting the target host: container $container"
# Privileged: systemd's sandboxing of the vLLM unit needs namespaces. The
# planned ports are published on loopback only, where the gate (run from this
# controller) reaches them.
podman run -d --name "$container" --hostname "$container" --systemd=always --privileged \
  --shm-size=2g -v "$WORKDIR/wheelhouse:/srv/wheelhouse:ro" \
  -p "127.0.0.1:$DEMO_FRONT_PORT:$DEMO_FRONT_PORT" \
  -p "127.0.0.1:${ports[1]}-${ports[-1]}:${ports[1]}-${ports[-1]}" \
  "$IMAGE_DEBIAN12" /sbin/init >/dev/null
for _ in $(seq 1 30); do
  state=$(podman exec "$container" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done

cd "$REPO_ROOT" || exit 1
rc=0
ANSIBLE_CONFIG=$REPO_ROOT/ansible.cfg ansible-playbook -i inventories/demo playbooks/site.yml \
  -e "inferops_front_port=$DEMO_FRONT_PORT" -e "inferops_base_port=$DEMO_INSTANCE_PORT" "$@" || rc=$?

report=$WORKDIR/demo-report/fleet.md
if [ -f "$report" ]; then
  echo
  cat "$report"
fi
elapsed=$(( $(date +%s) - start ))
if [ "$rc" -eq 0 ]; then
  log "demo passed in ${elapsed}s. The host keeps serving: curl -s http://127.0.0.1:$DEMO_INSTANCE_PORT/v1/models"
else
  log "demo FAILED (rc=$rc) after ${elapsed}s"
fi
if [ "$rc" -eq 0 ] && [ "${DEMO_KEEP:-1}" = 0 ]; then
  podman rm -f "$container" >/dev/null
elif [ "$rc" -eq 0 ]; then
  log "remove the demo host with: podman rm -f $container"
fi
exit "$rc"
