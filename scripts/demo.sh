#!/usr/bin/env bash
# The one-command demo (`make demo`): set up what is missing, start a local
# systemd container as the target host, and run playbooks/site.yml against it
# end to end (plan, tuning, vLLM CPU service, throughput gate), then print the
# fleet report. DEMO_KEEP=0 removes the container at the end; a failed demo
# removes it unless DEMO_KEEP_FAILED=1 (to debug it).
# Ports: the front on DEMO_PORT_BASE (default 8000), the host's one network
# listener, published on loopback; the instances listen from DEMO_PORT_BASE + 100
# on the container's own loopback. DEMO_PORT_BASE=9000 moves them when busy.
# The API key: generated once into $WORKDIR/demo-api-key (mode 0600); the
# inventory reads it from there (never from the command line).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/ci/common.sh"
CI_DIR=$REPO_ROOT/scripts/ci
container=${DEMO_CONTAINER:-inferops-demo}
start=$(date +%s)
# Only the front is published: the instances bind the container's loopback.
ports=("$DEMO_FRONT_PORT")

# The previous demo host holds these ports: it is replaced anyway.
if podman container exists "$container" 2>/dev/null; then
  log "removing the previous demo host: container $container"
  podman rm -f "$container" >/dev/null
fi
# Before anything is created: a busy port would fail the demo half-way.
if ! busy=$("$PYTHON" "$REPO_ROOT/scripts/demo_ports.py" "${ports[@]}"); then
  log "the demo needs port ${ports[*]} on 127.0.0.1 (its front):"
  printf '  %s\n' "$busy" >&2
  die "free it, or move the demo's ports with DEMO_PORT_BASE (front on it, instances from it + 100), e.g. DEMO_PORT_BASE=$((DEMO_PORT_BASE + 1000)) make demo"
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

# The front asks for this key on every path but /health; generated once, readable by root only.
key_file=${INFEROPS_DEMO_API_KEY_FILE:-$WORKDIR/demo-api-key}
if [ ! -s "$key_file" ]; then
  (umask 077; "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$key_file")
fi
chmod 600 "$key_file"
export INFEROPS_DEMO_API_KEY_FILE=$key_file
log "the demo's API key is in $key_file (mode 0600): send it as 'Authorization: Bearer <key>'"

log "starting the target host: container $container"
# Privileged: systemd's sandboxing of the vLLM unit needs namespaces. The
# front port is published on loopback only, where the gate (run from this
# controller) reaches it; the instances are gated from inside the container.
# DEMO_PODMAN_ARGS: more `podman run` options, e.g. --cgroupns=private, which bench-faults sets: on a
# cgroup v1 host (podman's default namespace there is the host's), systemd in the container cannot
# realise the memory controller, so the plan's MemoryMax= is written but not enforced.
read -ra podman_extra <<<"${DEMO_PODMAN_ARGS:-}"
podman run -d --name "$container" --hostname "$container" --systemd=always --privileged "${podman_extra[@]}" \
  --shm-size=2g -v "$WORKDIR/wheelhouse:/srv/wheelhouse:ro" \
  -p "127.0.0.1:$DEMO_FRONT_PORT:$DEMO_FRONT_PORT" \
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
  log "demo passed in ${elapsed}s. The host keeps serving on its front: curl -s -H \"Authorization: Bearer \$(cat $key_file)\" http://127.0.0.1:$DEMO_FRONT_PORT/v1/models"
else
  log "demo FAILED (rc=$rc) after ${elapsed}s"
fi
if [ "$rc" -eq 0 ] && [ "${DEMO_KEEP:-1}" = 0 ]; then
  podman rm -f "$container" >/dev/null
elif [ "$rc" -eq 0 ]; then
  log "remove the demo host with: podman rm -f $container"
fi
exit "$rc"
