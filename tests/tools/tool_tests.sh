#!/usr/bin/env bash
# Command-line tests of lstmner-train, lstmner-tag and lstmner-eval on the sample corpus:
# exit codes, outputs, and that the three tools agree with each other.
# Usage: tool_tests.sh BIN_DIR SAMPLE_DIR
set -uo pipefail
bin=$1
sample=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

ok() { passes=$((passes + 1)); echo "ok: $1"; }
not_ok() { failures=$((failures + 1)); echo "FAILED: $1"; }
check() {  # check "description" command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
expect_exit() {  # expect_exit CODE "description" command...
  local code=$1 what=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got == "$code" ]]; then ok "$what (exit $got)"; else
    not_ok "$what: exit $got, expected $code"; sed 's/^/  | /' "$work/err" | head -20
  fi
}

train_args=(--data "$sample" --emb-dim 32 --hidden 32 --casing-dim 8 --batch-size 8 --lr 0.005
            --epochs 12 --patience 0 --threads 1 --seed 3)

# --- lstmner-train -----------------------------------------------------------------------------
expect_exit 0 "train on the sample corpus" \
  "$bin/lstmner-train" "${train_args[@]}" --model "$work/m.model" --metrics-json "$work/m.json" -q
cp "$work/out" "$work/train_report.txt"
check "train prints the conlleval test report" grep -q "^processed [0-9]* tokens with [0-9]* phrases" "$work/train_report.txt"
check "train prints one line per epoch" test "$(grep -c '^epoch ' "$work/err")" -eq 12
check "train writes the model" test -s "$work/m.model"
for key in '"config"' '"epochs"' '"dev"' '"test"' '"best_epoch"' '"hidden_dim": 32' '"per_type"'; do
  check "metrics JSON has $key" grep -q "$key" "$work/m.json"
done
f1=$(sed -n 's/.*FB1: *\([0-9.]*\)$/\1/p' "$work/train_report.txt" | head -1)
check "test F1 on the sample corpus >= 80 (got $f1)" awk -v f="$f1" 'BEGIN { exit !(f >= 80) }'

expect_exit 1 "train names a missing file" "$bin/lstmner-train" --train "$work/nope.txt" -q
check "  ... in its message" grep -q "nope.txt" "$work/err"
printf 'EU NNP I-NP I-ORG\nrejects VBZ I-VP\n' >"$work/bad.txt"
expect_exit 1 "train rejects a malformed file" "$bin/lstmner-train" --train "$work/bad.txt" -q
check "  ... naming file and line" grep -q "bad.txt.*2" "$work/err"
expect_exit 2 "train rejects a bad config value (a command-line mistake)" "$bin/lstmner-train" --data "$sample" --dropout 1.5 -q
check "  ... naming the field" grep -q "dropout" "$work/err"
expect_exit 2 "train without data explains itself" env -u LSTMNER_DATA "$bin/lstmner-train" -q
expect_exit 0 "train --help" "$bin/lstmner-train" --help

# --- lstmner-tag ---------------------------------------------------------------------------------
printf 'Maria Lopez visited Berlin .\n\nThe U.S. team won.\n' >"$work/text.txt"
expect_exit 0 "tag raw text" "$bin/lstmner-tag" --model "$work/m.model" "$work/text.txt"
check "tag writes token and tag per line, blank line per sentence" \
  test "$(grep -c . "$work/out")" -eq 10 -a "$(grep -c '^$' "$work/out")" -eq 3
check "tag keeps U.S. whole inside a sentence" grep -qx 'U\.S\. [A-Z-]*' "$work/out"
check "tag splits the final period off" grep -qx 'won O' "$work/out"
expect_exit 0 "tag raw text from stdin as JSON" sh -c "'$bin/lstmner-tag' --model '$work/m.model' --output-format json < '$work/text.txt'"
check "one JSON object per sentence" test "$(grep -c '^{.*"entities":\[.*\].*}$' "$work/out")" -eq 3

expect_exit 0 "tag CoNLL input" "$bin/lstmner-tag" --model "$work/m.model" --input-format conll "$sample/test.txt"
cp "$work/out" "$work/pred.txt"
check "every input line kept, one column appended" \
  test "$(grep -c . "$work/pred.txt")" -eq "$(grep -c . "$sample/test.txt")"
check "-DOCSTART- lines kept" test "$(grep -c '^-DOCSTART-' "$work/pred.txt")" -eq "$(grep -c '^-DOCSTART-' "$sample/test.txt")"
expect_exit 0 "eval scores the tagged file" "$bin/lstmner-eval" "$work/pred.txt"
# lstmner-train's test report and lstmner-eval on lstmner-tag's output count the same entities
# (conlleval also counts each -DOCSTART- line as a token, hence the comparison from "with").
check "train's report and tag+eval agree" \
  test "$(sed -n 's/.*tokens with //p' "$work/out" | head -1)" = "$(sed -n 's/.*tokens with //p' "$work/train_report.txt" | head -1)"
check "  ... to the last digit of FB1" \
  test "$(grep '^accuracy' "$work/out" | sed 's/.*precision/precision/')" = "$(grep '^accuracy' "$work/train_report.txt" | sed 's/.*precision/precision/')"

printf 'garbage' >"$work/corrupt.model"
expect_exit 1 "tag rejects a corrupt model" "$bin/lstmner-tag" --model "$work/corrupt.model" "$work/text.txt"
check "  ... naming it" grep -q "corrupt.model" "$work/err"
expect_exit 1 "tag names a missing input" "$bin/lstmner-tag" --model "$work/m.model" "$work/missing.txt"
check "  ... in its message" grep -q "missing.txt" "$work/err"
expect_exit 2 "tag rejects an unknown input format" "$bin/lstmner-tag" --model "$work/m.model" --input-format xml

echo "$passes passed, $failures failed"
exit $((failures > 0))
