#!/usr/bin/env bash
# The command-line conventions every tool follows (examples/tool_main.hpp, docs/tools.md), and
# what issue 12 fixed that shows at the command line: entity spans in the scheme of the tags,
# --metrics-json written atomically with its permissions kept, errors with the system's reason.
# Usage: reliability_tests.sh BIN_DIR TEST_DATA_DIR
set -uo pipefail
bin=$1
data=$2
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
usage_error() {  # usage_error TOOL "description" args...: exit 2, the prefix, the usage hint
  local tool=$1 what=$2
  shift 2
  expect_exit 2 "$tool: $what" "$bin/$tool" "$@"
  check "  ... says '$tool: error:'" grep -q "^$tool: error: " "$work/err"
  check "  ... and how to get help" grep -q "^Run with --help for more information.$" "$work/err"
}

printf 'EU B-ORG B-ORG\nrejects O O\n\nPeter S-PER S-PER\n' >"$work/pred.txt"
for tool in lstmner-train lstmner-tag lstmner-eval; do
  expect_exit 0 "$tool --version" "$bin/$tool" --version
  check "  ... prints '$tool <version>'" grep -qE "^$tool [0-9]+\.[0-9]+\.[0-9]+$" "$work/out"
  expect_exit 0 "$tool --help" "$bin/$tool" --help
  usage_error "$tool" "an unknown option" --no-such-option
done
usage_error lstmner-train "an option out of range" --train "$work/pred.txt" --hidden 0
usage_error lstmner-train "no training data" --train ""
usage_error lstmner-tag "a missing --model" "$work/pred.txt"
usage_error lstmner-tag "a value not in the list" --model m --output-format xml
usage_error lstmner-eval "a malformed number" --digits many "$work/pred.txt"
usage_error lstmner-eval "--scheme without --mode strict" --scheme iob2 "$work/pred.txt"
usage_error lstmner-eval "an empty delimiter" -d "" "$work/pred.txt"

# Failures other than the command line: exit 1, the prefix, the file and the system's reason.
expect_exit 1 "lstmner-eval: a missing file" "$bin/lstmner-eval" "$work/none.txt"
check "  ... 'lstmner-eval: error:' with the reason" \
  grep -q "^lstmner-eval: error: cannot open '.*none.txt': No such file or directory$" "$work/err"
expect_exit 1 "lstmner-tag: a missing model" "$bin/lstmner-tag" --model "$work/none.model"
check "  ... named" grep -q "^lstmner-tag: error: model file '.*none.model': does not exist$" "$work/err"
expect_exit 1 "lstmner-train: a missing training file" "$bin/lstmner-train" --train "$work/none.txt" -q
check "  ... named" grep -q "^lstmner-train: error: .*none.txt: no such file$" "$work/err"
if [[ $(id -u) != 0 ]]; then  # root reads any file: permissions cannot be tested as root
  cp "$work/pred.txt" "$work/locked.txt"
  chmod 000 "$work/locked.txt"
  expect_exit 1 "lstmner-eval: an unreadable file" "$bin/lstmner-eval" "$work/locked.txt"
  check "  ... 'Permission denied', not 'no such file'" grep -q "Permission denied" "$work/err"
  expect_exit 1 "lstmner-train: an unreadable file" "$bin/lstmner-train" --train "$work/locked.txt"
  check "  ... 'Permission denied', not 'no such file'" grep -q "Permission denied" "$work/err"
fi

# --scheme in any letter case, everywhere.
expect_exit 0 "lstmner-eval --scheme IOBES" "$bin/lstmner-eval" --mode strict --scheme IOBES "$work/pred.txt"
expect_exit 0 "lstmner-eval --scheme Iobes" "$bin/lstmner-eval" --mode strict --scheme Iobes "$work/pred.txt"

# A model whose output has adjacent entities of one type (tests/data/model/adjacent.txt); its
# JSON spans are decoded in the scheme of the tags.
expect_exit 0 "train on adjacent entities, in IOBES, --metrics-json" \
  "$bin/lstmner-train" --train "$data/model/adjacent.txt" --model "$work/adj.model" \
  --emb-dim 16 --hidden 16 --casing-dim 4 --epochs 40 --lr 0.01 --dropout 0 --singleton-unk 0 \
  --threads 1 --scheme IoBeS --metrics-json "$work/metrics.json" -q
check "the metrics JSON is complete" grep -q '"best_epoch"' "$work/metrics.json"
echo 'Talks between Germany France Italy and Spain ended .' >"$work/line.txt"
for scheme in iobes IOB2 iob1; do
  expect_exit 0 "tag --scheme $scheme --output-format json" \
    "$bin/lstmner-tag" --model "$work/adj.model" --scheme "$scheme" --output-format json "$work/line.txt"
  check "  ... four LOC spans: Germany, France, Italy, Spain" \
    test "$(grep -o '"text":"[A-Za-z]*","type":"LOC"' "$work/out" | tr '\n' ' ')" = \
    '"text":"Germany","type":"LOC" "text":"France","type":"LOC" "text":"Italy","type":"LOC" "text":"Spain","type":"LOC" '
done
grep -q '"S-LOC","S-LOC","S-LOC"' <(
  "$bin/lstmner-tag" --model "$work/adj.model" --scheme iobes --output-format json "$work/line.txt")
check "  ... from the tags S-LOC S-LOC S-LOC in IOBES" test $? = 0
"$bin/lstmner-tag" --model "$work/adj.model" --scheme iobes --input-format conll --output-format json \
  <(printf 'Germany\nFrance\nItaly\n') >"$work/out" 2>"$work/err"
check "CoNLL input's JSON spans too" test "$(grep -o '"type":"LOC"' "$work/out" | wc -l)" = 3

# --metrics-json replaces a file atomically and keeps its permissions.
chmod 600 "$work/metrics.json"
before=$(ls -a "$work" | wc -l)
expect_exit 0 "train again over the same --metrics-json" \
  "$bin/lstmner-train" --train "$data/model/adjacent.txt" --emb-dim 4 --hidden 4 --epochs 1 \
  --threads 1 --metrics-json "$work/metrics.json" -q
check "  ... keeps its mode 600" test "$(stat -c %a "$work/metrics.json")" = 600
check "  ... leaves no temporary file" test "$(ls -a "$work" | wc -l)" = "$before"

finish
