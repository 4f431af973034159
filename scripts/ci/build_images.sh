#!/usr/bin/env bash
# Local base images with systemd as PID 1, made with debootstrap + podman import
# (no registry is reachable). Existing images are kept unless FORCE=1.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"

base_pkgs=systemd,systemd-sysv,python3,python3-apt,python3-venv,sudo,dbus,procps,iproute2,curl,libnuma1,ca-certificates
build() {
  local name=$1 suite=$2 extra=$3
  if [ "${FORCE:-0}" != 1 ] && podman image exists "$name"; then
    log "image $name exists, skipping"
    return 0
  fi
  local dir
  dir=$(mktemp -d "$WORKDIR/rootfs.XXXXXX")
  log "debootstrap $suite into $dir (1-3 min)"
  debootstrap --variant=minbase --include="$base_pkgs${extra:+,$extra}" "$suite" "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1 \
    || { tail -20 "$dir.log" >&2; die "debootstrap $suite failed (log: $dir.log)"; }
  # Units that cannot work in a container and only mark the system degraded.
  for unit in systemd-modules-load.service systemd-udevd.service systemd-udev-trigger.service \
              sys-kernel-config.mount getty@tty1.service console-getty.service; do
    ln -sf /dev/null "$dir/etc/systemd/system/$unit"
  done
  rm -f "$dir/etc/machine-id" && : >"$dir/etc/machine-id"
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/*
  if [ -n "$extra" ] && [ -x "$dir/usr/bin/podman" ]; then
    # Podman inside the container: crun + fuse-overlayfs, ulimits it can grant.
    mkdir -p "$dir/etc/containers"
    printf '[containers]\ndefault_ulimits = ["nofile=10000:10000"]\n[engine]\nruntime = "crun"\n' \
      >"$dir/etc/containers/containers.conf"
    printf '[storage]\ndriver = "overlay"\n[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n' \
      >"$dir/etc/containers/storage.conf"
  fi
  tar -C "$dir" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$name" >/dev/null
  rm -rf "$dir" "$dir.log"
  log "image $name built"
}

mkdir -p "$WORKDIR"
# Both at once: debootstrap mostly waits on the mirror.
build "$IMAGE_DEBIAN12" bookworm "" &
d12=$!
build "$IMAGE_DEBIAN13" trixie "podman,crun,fuse-overlayfs,nftables,netavark,aardvark-dns,conmon,catatonit" &
d13=$!
rc=0
wait "$d12" || rc=1
wait "$d13" || rc=1
exit "$rc"
