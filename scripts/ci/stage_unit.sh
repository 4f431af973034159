#!/usr/bin/env bash
# Unit tests for pure logic (topology, planning, load statistics, parsers).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
cd "$COLLECTION_LINK" || exit 1
PYTHONPATH=$COLLECTIONS_DIR python -m pytest tests/unit -q -p no:cacheprovider "$@"
