#!/usr/bin/env bash
# Build the collection tarball and run galaxy-importer on it (offline: no
# ansible-test container). Any ERROR line from the importer fails the stage.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
out=$WORKDIR/build
rm -rf "$out" && mkdir -p "$out"
cd "$REPO_ROOT" || exit 1
ansible-galaxy collection build --force --output-path "$out" .
cfg=$out/galaxy-importer.cfg
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nRUN_FLAKE8 = False\nLOG_LEVEL_MAIN = INFO\n' >"$cfg"
# The importer writes importer_result.json into the current directory: keep it in $out.
cd "$out" || exit 1
GALAXY_IMPORTER_CONFIG=$cfg python -m galaxy_importer.main "$out"/inferops-vllm-*.tar.gz | tee "$out/importer.log"
if grep -E '^(ERROR|CRITICAL)|ImporterError' "$out/importer.log"; then
  echo "galaxy-importer reported errors" >&2
  exit 1
fi
