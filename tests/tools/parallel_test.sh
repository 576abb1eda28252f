#!/usr/bin/env bash
# lstmner-tune with GNU parallel, the local form of docs/tuning.md's multi-machine search:
# --print-commands writes the trial commands (plain lstmner-train runs on the sample corpus),
# `parallel -j2` runs them, `lstmner-tune --dir DIR --collect` reads the results back.
# Exits 77 (CTest: skipped) without GNU parallel.
# Usage: parallel_test.sh BIN_DIR SAMPLE_DIR
set -uo pipefail
if ! command -v parallel >/dev/null; then
  echo "SKIPPED: GNU parallel not found (scripts/install-deps.sh installs Debian's parallel)"
  exit 77
fi
bin=$(cd "$1" && pwd)
sample=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

d="$work/search"
"$bin/lstmner-tune" --dir "$d" --data "$sample" --param lr=loguniform:0.003:0.01 \
  --param dropout=uniform:0.2:0.5 --trials 4 --jobs 2 --print-commands \
  -- --emb-dim 16 --hidden 16 --casing-dim 4 --epochs 2 --batch-size 8 >"$work/commands.txt"
check "--print-commands writes the trial commands" test $? = 0
check "  ... one per trial" test "$(wc -l <"$work/commands.txt")" = 4
check "  ... each a plain lstmner-train command writing its metrics JSON" \
  test "$(grep -c "lstmner-train.* --metrics-json $d/trials/000[0-3]/metrics.json" "$work/commands.txt")" = 4
"$bin/lstmner-tune" --dir "$d" --collect >/dev/null 2>"$work/err"
check "--collect before any run records nothing" test $? = 0
check "  ... and says 4 runs have no results" grep -q "4 runs have no results yet" "$work/err"
check "  ... no trial recorded" test ! -s "$d/trials.jsonl"
check "parallel -j2 runs the commands" parallel --will-cite -j2 <"$work/commands.txt"
check "lstmner-tune --dir DIR --collect --report reads the results back" \
  "$bin/lstmner-tune" --dir "$d" --collect --report >"$work/summary.txt"
check "  ... all four trials finished" test "$(grep -c '"status":"ok"' "$d/trials.jsonl")" = 4
check "  ... the summary names the best" grep -q "^best: trial" "$work/summary.txt"
check "  ... the report's numbers match summary.json" \
  python3 "$here/check_report.py" "$d/report.html" "$d/summary.json" --min-numbers 10
check "--print-commands now has nothing left to run" \
  test -z "$("$bin/lstmner-tune" --dir "$d" --print-commands)"

finish
