#!/usr/bin/env bash
# Builds two signed flat apt repositories that stand in for NVIDIA's CUDA and libnvidia-container
# repositories (which the test machines cannot reach), with empty packages of the right names and
# versions: nvidia-open 575.57.08-1 and 580.95.05-1 plus linux-headers-<running kernel> in "cuda",
# nvidia-container-toolkit 1.18.0-1 and its libraries in "toolkit". Each repository has an InRelease
# signed by a throwaway ed25519 key exported to key.asc (ASCII-armored, as NVIDIA's keys are).
# The packages install nothing: no nvidia-smi, no kernel module, which is what the apply-mode test
# expects the role to notice.
# Usage: make_fake_repo.sh OUTDIR KERNEL_RELEASE
set -euo pipefail
out=$1
kernel=$2
command -v gpg >/dev/null || { echo "make_fake_repo.sh: gpg is needed on the controller (apt-get install gpg)" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "make_fake_repo.sh: dpkg-deb is needed on the controller" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/cuda" "$out/toolkit" "$out/build"
export GNUPGHOME="$out/build/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'inferops.vllm test repository <test@inferops.invalid>' ed25519 sign never
gpg --batch --armor --export >"$out/key.asc"

package() {  # package REPO NAME VERSION
  local repo=$1 name=$2 version=$3
  local dir="$out/build/$name-$version"
  mkdir -p "$dir/DEBIAN"
  cat >"$dir/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: inferops.vllm test <test@inferops.invalid>
Section: misc
Priority: optional
Description: empty stand-in for $name (inferops.vllm nvidia_gpu scenario)
CONTROL
  dpkg-deb --root-owner-group -Zgzip -b "$dir" "$out/$repo/${name}_${version}_all.deb" >/dev/null
}

index() {  # index REPO: Packages, Release, InRelease, Release.gpg
  local dir="$out/$1" deb
  : >"$dir/Packages"
  for deb in "$dir"/*.deb; do
    {
      dpkg-deb -f "$deb"
      echo "Filename: ./$(basename "$deb")"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
      echo
    } >>"$dir/Packages"
  done
  cat >"$dir/Release" <<RELEASE
Origin: inferops.vllm test
Label: inferops.vllm test $1
Date: $(LC_ALL=C date -u -R)
SHA256:
 $(sha256sum "$dir/Packages" | cut -d' ' -f1) $(stat -c %s "$dir/Packages") Packages
RELEASE
  gpg --batch --yes --clearsign -o "$dir/InRelease" "$dir/Release"
  gpg --batch --yes --armor --detach-sign -o "$dir/Release.gpg" "$dir/Release"
}

package cuda nvidia-open 575.57.08-1
package cuda nvidia-open 580.95.05-1
package cuda "linux-headers-$kernel" 99.0-inferops
for name in nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1; do
  package toolkit "$name" 1.18.0-1
done
index cuda
index toolkit
gpgconf --kill all 2>/dev/null || true
rm -rf "$out/build"
chmod -R a+rX "$out"
