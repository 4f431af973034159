# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this file
# Shared settings for the test harness scripts (sourced, not run).
# Everything slow to build lives outside the checkout so a rerun (or CI on the
# same machine) reuses it: venv, extracted collections, wheelhouse, models.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORKDIR=${INFEROPS_WORKDIR:-/var/tmp/inferops-vllm}
VENV=${INFEROPS_VENV:-$WORKDIR/venv}
COLLECTIONS_DIR=${INFEROPS_COLLECTIONS_DIR:-$WORKDIR/collections}
COLLECTION_LINK=$COLLECTIONS_DIR/ansible_collections/inferops/vllm
PYTHON=${INFEROPS_PYTHON:-python3}
IMAGE_DEBIAN12=${INFEROPS_IMAGE_DEBIAN12:-localhost/inferops-debian12:latest}
IMAGE_DEBIAN13=${INFEROPS_IMAGE_DEBIAN13:-localhost/inferops-debian13:latest}
DEBIAN_MIRROR=${INFEROPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export WORKDIR VENV COLLECTIONS_DIR COLLECTION_LINK
export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS_DIR
export PATH=$VENV/bin:$PATH
# Plain logs: stage logs are read as text.
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

# The demo's published ports: the front on DEMO_PORT_BASE, the instances from DEMO_PORT_BASE + 100
# (up to 4); scripts/demo.sh checks them before it creates anything and hands them to the plan.
DEMO_PORT_BASE=${DEMO_PORT_BASE:-8000}
DEMO_INSTANCE_SLOTS=4
if ! [[ $DEMO_PORT_BASE =~ ^[0-9]+$ ]] || [ "$DEMO_PORT_BASE" -lt 1024 ] || [ "$DEMO_PORT_BASE" -gt 65400 ]; then
  printf 'DEMO_PORT_BASE=%s must be a port number from 1024 to 65400\n' "$DEMO_PORT_BASE" >&2
  exit 2
fi
DEMO_FRONT_PORT=$DEMO_PORT_BASE
DEMO_INSTANCE_PORT=$((DEMO_PORT_BASE + 100))
export DEMO_PORT_BASE DEMO_FRONT_PORT DEMO_INSTANCE_PORT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
