#!/usr/bin/env bash
# lstmner-tag as a stream, with a small model trained here on the sample corpus.
#
#   stream_tests.sh window BIN_DIR SAMPLE_DIR
#     the output is the same, byte for byte, for every --window (1, 7, the default, and 0: the
#     whole input at once, as lstmner-tag tagged before it streamed), from a file and from stdin,
#     for CoNLL and raw text, CoNLL and JSON output; -DOCSTART- lines of empty documents kept; an
#     error in a late window names file and line after the earlier windows are written; progress
#     only when stderr is a terminal. With a document-context model (documents held whole across
#     windows): the same output for every window at least as long as the longest document.
#   stream_tests.sh parallel BIN_DIR SAMPLE_DIR
#     GNU parallel --pipe -k, cutting the input at blank lines (--recend '\n\n'), at -DOCSTART-
#     lines (--recstart), or raw text at any line, gives the single process's output byte for
#     byte (docs/scale.md). Exits 77 (CTest: skipped) without GNU parallel.
set -uo pipefail
mode=$1
bin=$(cd "$2" && pwd)
sample=$(cd "$3" && pwd)
if [[ $mode == parallel ]] && ! command -v parallel >/dev/null; then
  echo "SKIPPED: GNU parallel not found (scripts/install-deps.sh installs Debian's parallel)"
  exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
same() {  # same "description" FILE_A FILE_B: byte for byte, and not empty
  if [[ -s $2 ]] && cmp -s "$2" "$3"; then ok "$1"; else
    not_ok "$1"; diff "$2" "$3" | head -10 | sed 's/^/  | /'
  fi
}

tag=("$bin/lstmner-tag" -m "$work/m.model" --threads 2)
"$bin/lstmner-train" --data "$sample" --emb-dim 16 --hidden 16 --casing-dim 4 --batch-size 8 \
  --epochs 2 --patience 0 --threads 1 --seed 3 --model "$work/m.model" -q >/dev/null 2>"$work/err" ||
  { echo "FAILED: training the model"; cat "$work/err"; exit 1; }

# CoNLL input: the sample corpus (20 documents, 400 sentences), and a file with empty documents,
# a -DOCSTART- line at the end, CRLF line ends and runs of blank lines.
cat "$sample/test.txt" "$sample/train.txt" "$sample/valid.txt" >"$work/corpus.txt"
printf -- '-DOCSTART- -X- O O\r\n\r\n-DOCSTART- -X- O O\r\n\r\nEU NNP B-ORG\r\nrejects VBZ O\r\n\r\n\r\n\r\n-DOCSTART- -X- O O\r\n\r\n-DOCSTART- -X- O O\r\nPeter NNP B-PER\r\nBlackburn NNP I-PER\r\n\r\n-DOCSTART- -X- O O\r\n' >"$work/docs.txt"
# Raw text: the words of the corpus, a sentence per line, and some empty lines.
awk 'NF == 0 { if (l != "") print l; l = ""; next } $1 == "-DOCSTART-" { print ""; next }
     { l = (l == "" ? $1 : l " " $1) } END { if (l != "") print l }' "$work/corpus.txt" >"$work/raw.txt"

if [[ $mode == window ]]; then
  for input in corpus docs raw; do
    format=conll
    [[ $input == raw ]] && format=text
    for out in conll json; do
      "${tag[@]}" --input-format $format --output-format $out --window 0 "$work/$input.txt" \
        >"$work/whole" 2>"$work/err"
      check "$input -> $out, --window 0 (the whole input at once): exit 0, nothing on stderr" \
        test $? = 0 -a ! -s "$work/err"
      for window in 1 7 default; do
        opt=(--window $window)
        [[ $window == default ]] && opt=()
        "${tag[@]}" --input-format $format --output-format $out "${opt[@]}" <"$work/$input.txt" \
          >"$work/streamed" 2>"$work/err"
        same "$input -> $out, stdin, --window $window: the output of --window 0" \
          "$work/whole" "$work/streamed"
      done
    done
  done
  # The docs file keeps all of its five -DOCSTART- lines, the empty documents' too, in place.
  "${tag[@]}" --input-format conll --window 1 "$work/docs.txt" >"$work/out"
  check "every -DOCSTART- line kept, empty documents too" \
    test "$(grep -c '^-DOCSTART- -X- O O O$' "$work/out")" = 5
  check "  ... in place" test "$(awk 'NF { printf "%s ", $1 }' "$work/out")" = \
    "-DOCSTART- -DOCSTART- EU rejects -DOCSTART- -DOCSTART- Peter Blackburn -DOCSTART- "
  check "  ... one blank line after each sentence and -DOCSTART- line" \
    test "$(grep -c '^$' "$work/out")" = 7
  check "  ... nine lines in all (five -DOCSTART-, four tokens)" test "$(grep -c . "$work/out")" = 9

  # A model with a document-context block: a window's last document is held back and tagged with
  # the next window, so every window at least as long as the longest document (11 sentences in
  # the sample; 12 raw-text lines with the blank line after it) gives the output of the whole
  # input at once. A shorter window cuts documents; it still runs.
  "$bin/lstmner-train" --data "$sample" --emb-dim 16 --hidden 16 --casing-dim 4 --batch-size 8 \
    --doc-context-dim 4 --epochs 2 --patience 0 --threads 1 --seed 3 --model "$work/d.model" \
    -q >/dev/null 2>"$work/err" || { not_ok "training a document-context model"; cat "$work/err"; }
  dtag=("$bin/lstmner-tag" -m "$work/d.model" --threads 2)
  for input in corpus raw; do
    format=conll
    [[ $input == raw ]] && format=text
    "${dtag[@]}" --input-format $format --window 0 "$work/$input.txt" >"$work/whole"
    for window in 13 50 default; do
      opt=(--window $window)
      [[ $window == default ]] && opt=()
      "${dtag[@]}" --input-format $format "${opt[@]}" <"$work/$input.txt" >"$work/streamed"
      same "document context: $input, --window $window: the output of --window 0" \
        "$work/whole" "$work/streamed"
    done
    "${dtag[@]}" --input-format $format --window 1 <"$work/$input.txt" >"$work/streamed"
    check "document context: $input, --window 1 (documents cut): every line written" \
      test "$(wc -l <"$work/streamed")" = "$(wc -l <"$work/whole")"
  done

  # A bad line in a late window: the earlier windows are written, the error names file and line.
  { cat "$sample/test.txt"; printf 'German JJ B-MISC\ncall NN\n\n'; } >"$work/bad.txt"
  bad_line=$(($(wc -l <"$sample/test.txt") + 2))
  "${tag[@]}" --input-format conll --window 5 "$work/bad.txt" >"$work/out" 2>"$work/err"
  check "a bad line in the last window: exit 1" test $? = 1
  check "  ... naming file and line $bad_line" \
    grep -q "^lstmner-tag: error: lstmner: read_conll: $work/bad.txt:$bad_line: 2 fields" "$work/err"
  "${tag[@]}" --input-format conll "$sample/test.txt" >"$work/good"
  written=$(stat -c %s "$work/out")
  check "  ... after writing the windows before it ($written bytes, the start of the good output)" \
    cmp -s "$work/out" <(head -c "$written" "$work/good")
  check "  ... all but the last window's few sentences" \
    test "$written" -gt $(($(stat -c %s "$work/good") * 9 / 10))

  # Progress: never on a pipe or file; on a terminal, tokens and tokens/s.
  "${tag[@]}" --input-format conll "$work/corpus.txt" >/dev/null 2>"$work/err"
  check "no progress when stderr is not a terminal" test ! -s "$work/err"
  if command -v script >/dev/null; then
    script -qec "'$bin/lstmner-tag' -m '$work/m.model' --input-format conll '$work/corpus.txt' >/dev/null" \
      /dev/null >"$work/tty" 2>&1 </dev/null
    check "progress (tokens, tokens/s) when stderr is a terminal" \
      grep -q "lstmner-tag: [0-9]* tokens, [0-9]* tokens/s" "$work/tty"
    script -qec "'$bin/lstmner-tag' -q -m '$work/m.model' --input-format conll '$work/corpus.txt' >/dev/null" \
      /dev/null >"$work/tty" 2>&1 </dev/null
    check "  ... and none with -q" test ! -s "$work/tty"
  else
    echo "SKIPPED: progress on a terminal (no script(1))"
  fi
fi

if [[ $mode == parallel ]]; then
  par=(parallel --will-cite --pipe -k -j2)
  "${tag[@]}" --input-format conll "$work/corpus.txt" >"$work/single"
  for block in 2k 16k; do
    "${par[@]}" --block $block --recend '\n\n' "${tag[@]}" --input-format conll \
      <"$work/corpus.txt" >"$work/parallel"
    same "corpus: parallel --pipe -k --block $block --recend '\\n\\n' = one process" \
      "$work/single" "$work/parallel"
  done
  # The docs file has CRLF line ends: its blank lines are \r\n.
  "${tag[@]}" --input-format conll "$work/docs.txt" >"$work/single"
  "${par[@]}" --block 50 --recend '\r\n\r\n' "${tag[@]}" --input-format conll \
    <"$work/docs.txt" >"$work/parallel"
  same "docs (CRLF): --recend '\\r\\n\\r\\n' = one process" "$work/single" "$work/parallel"
  # Whole documents: cut only where a line starts with -DOCSTART-.
  "${tag[@]}" --input-format conll "$work/corpus.txt" >"$work/single"
  "${par[@]}" --block 2k --recend '\n' --recstart '-DOCSTART-' "${tag[@]}" --input-format conll \
    <"$work/corpus.txt" >"$work/parallel"
  same "corpus: --recend '\\n' --recstart -DOCSTART- (whole documents) = one process" \
    "$work/single" "$work/parallel"
  for out in conll json; do
    "${tag[@]}" --output-format $out "$work/raw.txt" >"$work/single"
    "${par[@]}" --block 4k "${tag[@]}" --output-format $out <"$work/raw.txt" >"$work/parallel"
    same "raw text -> $out: parallel --pipe -k --block 4k (any line) = one process" \
      "$work/single" "$work/parallel"
  done
  # The blocks above really are many: the input went to more than one process.
  pieces=$("${par[@]}" --block 10k --recend '\n\n' wc -l <"$work/corpus.txt" | wc -l)
  check "the corpus is cut into $pieces pieces at --block 10k (more than 5)" test "$pieces" -gt 5
fi

finish
