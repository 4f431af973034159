#!/usr/bin/env bash
# Changelog fragments must parse (antsibull-changelog).
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
antsibull-changelog lint
