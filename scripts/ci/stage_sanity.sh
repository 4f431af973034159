#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/<ns>/<name>
# as a real directory (it resolves symlinks) and a git checkout: copy it there.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
# One copy per collections dir, so a second checkout testing at once has its own.
dest=$COLLECTIONS_DIR.sanity/ansible_collections/inferops/vllm
mkdir -p "$dest"
rsync -a --delete --exclude tests/output/ --exclude .cache/ --exclude .venv/ "$REPO_ROOT/" "$dest/"
cd "$dest" || exit 1
ansible-test sanity --venv --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
