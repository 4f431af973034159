#!/usr/bin/env bash
# One molecule scenario, full sequence (create, converge, idempotence, verify, destroy).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
scenario=$1
cd "$COLLECTION_LINK" || exit 1
export INFEROPS_IMAGE_DEBIAN12 INFEROPS_IMAGE_DEBIAN13
INFEROPS_IMAGE_DEBIAN12=$IMAGE_DEBIAN12 INFEROPS_IMAGE_DEBIAN13=$IMAGE_DEBIAN13 \
  molecule test -s "$scenario"
