#!/usr/bin/env bash
# The quick start's main job: installs what is missing, builds the tools, trains a tagger and
# tags an example sentence with the saved model.
#   - on CoNLL-2003 when it is found ($LSTMNER_DATA, else ../shared/data/conll2003 beside the
#     clone): the documented default configuration, a few minutes on 2 cores;
#   - otherwise on the small sample corpus shipped in examples/data/sample (seconds).
# Extra arguments go to lstmner-train (e.g. --epochs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target lstmner-train lstmner-tag

data="${LSTMNER_DATA:-../shared/data/conll2003}"
if [[ -f "$data/train.txt" && -f "$data/valid.txt" && -f "$data/test.txt" ]]; then
  echo "== training on CoNLL-2003 from $data"
else
  echo "== CoNLL-2003 not found (set LSTMNER_DATA to its directory); training on the sample corpus"
  data=examples/data/sample
  # 400 sentences make only 13 batches of 32 per epoch: smaller batches and a higher learning
  # rate give the model enough updates to learn in seconds.
  set -- --batch-size 8 --lr 0.005 --epochs 30 "$@"
fi
model=build/release/demo.model
build/release/examples/lstmner-train --data "$data" --model "$model" "$@"

sentence="Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the European Union budget."
echo "== tagging: $sentence"
echo "$sentence" | build/release/examples/lstmner-tag --model "$model"
echo "$sentence" | build/release/examples/lstmner-tag --model "$model" --output-format json
