#!/usr/bin/env bash
# Changelog fragments must parse (antsibull-changelog).
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT" || exit 1
antsibull-changelog lint
