#!/usr/bin/env bash
# Unit tests for pure logic (topology, planning, load statistics, parsers).
source "$(dirname "$0")/common.sh"
cd "$COLLECTION_LINK"
PYTHONPATH=$COLLECTIONS_DIR python -m pytest tests/unit -q -p no:cacheprovider "$@"
