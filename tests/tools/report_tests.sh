#!/usr/bin/env bash
# The HTML reports, checked against the JSON they come from.
#
#   report_tests.sh pages BIN_DIR SAMPLE_DIR EVAL_DIR OUT_DIR
#     writes the reports of lstmner-train (the sample corpus), lstmner-eval (its predictions,
#     and tests/data/eval/iobes.txt) and lstmner-tune (fake trials) into OUT_DIR, each beside
#     its JSON, and checks every number on each page against that JSON (check_report.py);
#     also that the check catches a wrong number.
#   report_tests.sh browser OUT_DIR [SCREENSHOT.png]
#     renders each page of OUT_DIR in headless Chromium to a 1280x2000 PNG and checks it drew
#     (check_png.py); checks the numbers of the DOM Chromium built for the training report;
#     exits 77 (CTest: skipped) without chromium. With SCREENSHOT.png, also writes a small screenshot of the top of the
#     training report there (what docs/images/report.png is).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

pages() {
  local bin sample eval_dir out
  bin=$(cd "$1" && pwd)
  sample=$(cd "$2" && pwd)
  eval_dir=$(cd "$3" && pwd)
  out=$4
  rm -rf "$out"
  mkdir -p "$out"
  check "lstmner-train --report" "$bin/lstmner-train" --data "$sample" --emb-dim 32 --hidden 32 \
    --casing-dim 8 --batch-size 8 --lr 0.005 --epochs 10 --patience 0 --threads 1 --seed 3 -q \
    --model "$out/m.model" --metrics-json "$out/train.json" --report "$out/train.html"
  "$bin/lstmner-tag" --model "$out/m.model" --input-format conll "$sample/test.txt" >"$out/pred.txt"
  check "lstmner-eval --report" "$bin/lstmner-eval" --report "$out/eval.html" \
    --train "$sample/train.txt" "$out/pred.txt" >/dev/null
  "$bin/lstmner-eval" --analysis --format json --train "$sample/train.txt" "$out/pred.txt" \
    >"$out/eval.json"
  check "lstmner-eval --report on tests/data/eval/iobes.txt (seqeval rules)" "$bin/lstmner-eval" \
    --mode seqeval --report "$out/eval_iobes.html" "$eval_dir/iobes.txt" >/dev/null
  "$bin/lstmner-eval" --mode seqeval --analysis --format json "$eval_dir/iobes.txt" \
    >"$out/eval_iobes.json"
  touch "$out/none.txt"
  check "lstmner-tune --report" "$bin/lstmner-tune" --dir "$out/tune" --train "$out/none.txt" \
    --dev "$out/none.txt" --test "$out/none.txt" --param lr=loguniform:1e-4:1e-1 \
    --param batch-size=choice:8,16 --trials 8 --jobs 2 --final-seeds 2 --report \
    --train-command "$here/fake_trial.sh" >/dev/null 2>&1
  cp "$out/tune/report.html" "$out/tune.html"
  cp "$out/tune/summary.json" "$out/tune.json"
  for name in train eval eval_iobes tune; do
    check "$name.html: every number shown is the number in $name.json" \
      python3 "$here/check_report.py" "$out/$name.html" "$out/$name.json" --min-numbers 10
  done
  # The check must be able to fail: the last digit of one shown number changed.
  python3 - "$out/eval.html" "$out/tampered.html" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'data-scale="100">\d+\.\d(\d)<', text)
digit = str((int(m.group(1)) + 1) % 10)
open(sys.argv[2], "w", encoding="utf-8").write(text[:m.start(1)] + digit + text[m.end(1):])
EOF
  if python3 "$here/check_report.py" "$out/tampered.html" "$out/eval.json" >/dev/null; then
    not_ok "check_report.py passes a page with a wrong number"
  else
    ok "check_report.py fails a page with a wrong number"
  fi
  rm -f "$out/tampered.html"
}

browser() {
  local out shot=${2:-}
  out=$(cd "$1" && pwd)  # file:// URLs need absolute paths
  local chromium
  chromium=$(command -v chromium || command -v chromium-browser || true)
  if [[ -z $chromium ]]; then
    echo "SKIPPED: chromium not found (scripts/install-deps.sh installs Debian's chromium)"
    exit 77
  fi
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
               --disable-background-networking --disable-component-update --disable-sync
               --hide-scrollbars)
  # The three tools' pages (eval_iobes is the eval page again: its HTML is checked by "pages").
  for name in train eval tune; do
    local page="$out/$name.html" png="$out/$name.png" profile
    profile=$(mktemp -d)
    rm -f "$png"
    timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$profile" --screenshot="$png" \
      --window-size=1280,2000 "file://$page" >"$out/$name.chromium.log" 2>&1
    check "$name.html renders to a 1280x2000 PNG that is not blank" \
      python3 "$here/check_png.py" "$png" 1280 2000
    if [[ $name == train ]]; then  # the richest page; the others' HTML is checked by "pages"
      timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$profile" --dump-dom "file://$page" \
        >"$out/$name.dom.html" 2>>"$out/$name.chromium.log"
      check "$name.html: the numbers of the DOM Chromium built equal $name.json" \
        python3 "$here/check_report.py" "$out/$name.dom.html" "$out/$name.json" --min-numbers 10
    fi
    rm -rf "$profile"
  done
  if [[ -n $shot ]]; then
    local profile
    profile=$(mktemp -d)
    timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$profile" --screenshot="$shot" \
      --window-size=1200,700 "file://$out/train.html" >/dev/null 2>&1
    rm -rf "$profile"
    check "screenshot for the docs written" python3 "$here/check_png.py" "$shot" 1200 700
  fi
}

mode=${1:-}
shift
case $mode in
  pages) pages "$@" ;;
  browser) browser "$@" ;;
  *) echo "usage: report_tests.sh pages|browser ..." >&2; exit 2 ;;
esac
finish
