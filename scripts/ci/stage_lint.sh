#!/usr/bin/env bash
# ansible-lint with the production profile (.ansible-lint), offline.
source "$(dirname "$0")/common.sh"
cd "$COLLECTION_LINK"
ansible-lint --offline --nocolor --profile production
