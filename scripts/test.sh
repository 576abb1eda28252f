#!/usr/bin/env bash
# Installs what is missing, builds lstmner with warnings as errors, and runs every test.
#   scripts/test.sh                      Release build in build/ci (the README's test command)
#   scripts/test.sh --sanitize           Debug build with -fsanitize=address,undefined in build/debug-asan
# CoNLL-2003 is found through LSTMNER_DATA or ../shared/data/conll2003; tests that need it say
# SKIPPED when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

preset=ci
if [[ "${1:-}" == "--sanitize" ]]; then preset=debug-asan; fi
jobs=$(nproc)

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs"
