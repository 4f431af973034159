#!/usr/bin/env bash
# Integration tests: AAP packaging (EE build context, controller config) and the ansible-runner example.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
cd "$COLLECTION_LINK" || exit 1
PYTHONPATH=$COLLECTIONS_DIR python -m pytest tests/integration -q -p no:cacheprovider "$@"
