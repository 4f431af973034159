#!/usr/bin/env bash
# Controller-side tooling: a venv with everything in test-requirements.txt, the
# dependency collections taken from the `ansible` wheel (no Galaxy here), the
# checkout linked into a collections tree, and ansible-test's pip bootstrap
# served locally. Each step is skipped when already done.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
mkdir -p "$WORKDIR"

req_hash=$(sha256sum <"$REPO_ROOT/test-requirements.txt" | cut -c1-16)
if [ "$(cat "$VENV/.req-hash" 2>/dev/null)" != "$req_hash" ]; then
  log "creating venv $VENV (1-3 min)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$REPO_ROOT/test-requirements.txt"
  echo "$req_hash" >"$VENV/.req-hash"
fi

# Dependency collections from the ansible community wheel.
wheel_dir=$WORKDIR/wheels
for coll in ansible/posix containers/podman; do
  [ -f "$COLLECTIONS_DIR/ansible_collections/$coll/MANIFEST.json" ] && continue
  if ! ls "$wheel_dir"/ansible-12*.whl >/dev/null 2>&1; then
    log "downloading the ansible 12 wheel for its bundled collections"
    "$VENV/bin/pip" download -q --no-deps -d "$wheel_dir" 'ansible>=12,<13'
  fi
  log "extracting $coll"
  "$VENV/bin/python" - "$wheel_dir" "$COLLECTIONS_DIR" "$coll" <<'PY'
import glob, sys, zipfile
wheel = sorted(glob.glob(sys.argv[1] + "/ansible-12*.whl"))[-1]
prefix = "ansible_collections/%s/" % sys.argv[3]
with zipfile.ZipFile(wheel) as zf:
    members = [n for n in zf.namelist() if n.startswith(prefix)]
    if not members:
        sys.exit("%s not in %s" % (prefix, wheel))
    zf.extractall(sys.argv[2], members)
PY
done

# The checkout as inferops.vllm.
mkdir -p "$(dirname "$COLLECTION_LINK")"
if [ "$(readlink "$COLLECTION_LINK" 2>/dev/null)" != "$REPO_ROOT" ]; then
  rm -rf "$COLLECTION_LINK"
  ln -s "$REPO_ROOT" "$COLLECTION_LINK"
fi

# ansible-test downloads get-pip.py from a host that is not reachable; it first
# looks in its cache, so put a stand-in there: ensurepip, then pip install with
# the same arguments minus the two that only get-pip.py understands.
pip_ver=$(grep -Po "pip='\K[0-9.]+" "$("$VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)
[ -n "$pip_ver" ] || die "cannot find the pip version ansible-test bootstraps"
stub=$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py
mkdir -p "$(dirname "$stub")"
cat >"$stub" <<'PY'
"""Offline stand-in for get-pip.py: ensurepip, then pip install with the same arguments."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
log "venv ready: ansible-core $("$VENV/bin/python" -c "import ansible.release as r; print(r.__version__)")"
