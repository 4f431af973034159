#!/usr/bin/env bash
# Host packages and podman configuration for running systemd test containers on
# these machines (see shared/reference/ENVIRONMENT.md): runc instead of crun
# (hybrid cgroup layout) and ulimits root can actually grant.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"

need=()
for cmd in podman runc debootstrap rsync git fuse-overlayfs openssl shellcheck gpg; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]} and not root: install them or run as root"
  log "installing host packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq podman runc debootstrap rsync git fuse-overlayfs openssl shellcheck gpg python3-venv >/dev/null
fi

conf=/etc/containers/containers.conf
marker='# managed by inferops.vllm test harness'
if ! grep -qF "$marker" "$conf" 2>/dev/null; then
  log "writing $conf (runc runtime, default ulimits)"
  mkdir -p /etc/containers
  tmp=$(mktemp "$conf.XXXXXX")
  cat >"$tmp" <<CONF
$marker
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
  mv -f "$tmp" "$conf"
fi
podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null || die "podman does not work on this host"
log "host ready: $(podman --version)"
