#!/usr/bin/env bash
# ansible-lint with the production profile (.ansible-lint), offline.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
cd "$COLLECTION_LINK" || exit 1
ansible-lint --offline --nocolor --profile production
