#!/usr/bin/env bash
# Command-line tests of lstmner-train, lstmner-tag and lstmner-eval on the sample corpus:
# exit codes, outputs, and that the three tools agree with each other.
# Usage: tool_tests.sh BIN_DIR SAMPLE_DIR
set -uo pipefail
bin=$1
sample=$2
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# The JSON checks need python3 (scripts/install-deps.sh installs it); without it they say so.
py_check() {  # py_check "description" python-arguments... (the script on stdin)
  local what=$1
  shift
  if ! command -v python3 >/dev/null; then
    echo "SKIPPED: $what (no python3)"
    cat >/dev/null
    return
  fi
  if python3 - "$@"; then ok "$what"; else not_ok "$what"; fi
}

small_model=(--data "$sample" --emb-dim 32 --hidden 32 --casing-dim 8 --batch-size 8 --lr 0.005
             --patience 0 --threads 1 --seed 3)
train_args=("${small_model[@]}" --epochs 12)

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

# --progress, --report, and a clean stop on SIGTERM.
expect_exit 0 "train --progress --report" "$bin/lstmner-train" "${small_model[@]}" --epochs 4 -q \
  --progress "$work/p.jsonl" --report "$work/run.html" --metrics-json "$work/p.json"
check "  ... one JSON line per epoch" test "$(grep -c '^{"epoch":[0-9]*,.*"dev_f1":' "$work/p.jsonl")" -eq 4
check "  ... an HTML report with inline SVG" grep -q "<svg" "$work/run.html"
check "  ... the metrics JSON holds the test set's error analysis" \
  grep -q '"analysis_set": "test"' "$work/p.json"
(exec "$bin/lstmner-train" "${small_model[@]}" --epochs 100000 -q --progress "$work/s.jsonl" \
   --metrics-json "$work/s.json" --model "$work/s.model" >/dev/null 2>"$work/s.err") &
pid=$!
for _ in $(seq 1 600); do  # until two epochs are done (at most a minute)
  [[ -s "$work/s.jsonl" && $(wc -l <"$work/s.jsonl") -ge 2 ]] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
kill -TERM $pid
wait $pid
code=$?
check "SIGTERM stops training with exit 143 (got $code)" test "$code" = 143
check "  ... saying so" grep -q "^interrupted (SIGTERM) after [0-9]* complete epochs" "$work/s.err"
py_check "  ... the metrics JSON written, marked interrupted, with the epochs done" "$work/s.json" "$work/s.jsonl" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
assert m["interrupted"] is True and m["signal"] == "SIGTERM", m
assert len(m["epochs"]) == len(lines) >= 2 and m["epochs_run"] == len(lines), (m["epochs"], lines)
best = max(range(len(lines)), key=lambda i: (lines[i]["dev_f1"], -i))
assert m["best_epoch"] == lines[best]["epoch"] and m["best_dev_f1"] == lines[best]["dev_f1"], m
EOF
check "  ... and no model (the library keeps the best weights only at the end)" test ! -e "$work/s.model"

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

# --- lstmner-eval: analysis, comparison, report --------------------------------------------------
expect_exit 0 "eval --analysis" "$bin/lstmner-eval" --analysis "$work/pred.txt"
for heading in "^Entity classes (conlleval rules)" "^Token confusion" "^By entity length" \
               "^By sentence length" "^Errors: [0-9]*$"; do
  check "  ... prints '$heading'" grep -q "$heading" "$work/out"
done
check "  ... the conlleval report first, unchanged" \
  test "$(head -1 "$work/out")" = "$("$bin/lstmner-eval" "$work/pred.txt" | head -1)"
expect_exit 0 "eval --analysis --format json --train" "$bin/lstmner-eval" --analysis --format json \
  --train "$sample/train.txt" "$work/pred.txt"
py_check "  ... every entity counted once; correct as conlleval counts" "$work/out" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
r, overall = a["report"], a["entity_classes"]["overall"]
assert overall["gold"]["total"] == r["entities"]["gold"], (overall, r["entities"])
assert overall["predicted"]["total"] == r["entities"]["predicted"]
assert overall["gold"]["correct"] == overall["predicted"]["correct"] == r["entities"]["correct"]
assert sum(v for k, v in overall["gold"].items() if k != "total") == overall["gold"]["total"]
seen = a["breakdowns"]["training_words"]
assert [b["label"] for b in seen] == ["seen", "unseen"] and sum(b["gold"] for b in seen) == r["entities"]["gold"]
assert a["errors_total"] == len(a["errors"]) > 0
EOF
awk '{ if (NF > 1) $NF = "O"; print }' "$work/pred.txt" >"$work/pred_none.txt"
expect_exit 0 "eval --compare A B" "$bin/lstmner-eval" --compare "$work/pred.txt" "$work/pred_none.txt" --samples 2000
check "  ... A far better: p = 1/(samples + 1)" grep -q "p = 0.0005 (two-sided)" "$work/out"
cp "$work/out" "$work/compare1.txt"
expect_exit 0 "eval --compare is reproducible" "$bin/lstmner-eval" --compare "$work/pred.txt" "$work/pred_none.txt" --samples 2000
check "  ... the same output again" cmp -s "$work/out" "$work/compare1.txt"
expect_exit 0 "eval --compare A A" "$bin/lstmner-eval" --compare "$work/pred.txt" "$work/pred.txt" --format json --samples 500
py_check "  ... no difference, p = 1" "$work/out" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["f1_difference"] == 0 and c["p_value"] == 1 and c["interval"] == [0, 0] and c["samples"] == 500, c
EOF
awk 'NR == 5 { $(NF-1) = ($(NF-1) == "O" ? "B-LOC" : "O") } { print }' "$work/pred.txt" >"$work/pred_other_gold.txt"
expect_exit 1 "eval --compare refuses files with other gold tags" \
  "$bin/lstmner-eval" --compare "$work/pred.txt" "$work/pred_other_gold.txt"
check "  ... naming both files and a line" grep -q "pred.txt:[0-9]* and .*pred_other_gold.txt:[0-9]*" "$work/err"
expect_exit 2 "eval --compare with --analysis is a usage error" \
  "$bin/lstmner-eval" --compare "$work/pred.txt" "$work/pred.txt" --analysis
check "  ... with the error prefix" grep -q "^lstmner-eval: error:" "$work/err"
expect_exit 2 "eval --train without --analysis or --report" "$bin/lstmner-eval" --train "$sample/train.txt" "$work/pred.txt"
expect_exit 0 "eval --report" "$bin/lstmner-eval" --report "$work/eval.html" "$work/pred.txt"
check "  ... an HTML page with inline SVG" grep -q "<svg" "$work/eval.html"

printf 'garbage' >"$work/corrupt.model"
expect_exit 1 "tag rejects a corrupt model" "$bin/lstmner-tag" --model "$work/corrupt.model" "$work/text.txt"
check "  ... naming it" grep -q "corrupt.model" "$work/err"
expect_exit 1 "tag names a missing input" "$bin/lstmner-tag" --model "$work/m.model" "$work/missing.txt"
check "  ... in its message" grep -q "missing.txt" "$work/err"
expect_exit 2 "tag rejects an unknown input format" "$bin/lstmner-tag" --model "$work/m.model" --input-format xml

finish
