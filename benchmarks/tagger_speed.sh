#!/usr/bin/env bash
# tagger_speed.sh: the whole tagger on CoNLL-2003 against the PyTorch peer, measured in one go on
# the same cores, printed as ONE Markdown table (paste-able into docs/performance.md).
#
# Usage:
#   benchmarks/tagger_speed.sh [--build DIR] [--data DIR] [--runs N] [--no-torch]
#                              [--threads "1 2 4 8"] [--baseline DIR]
#                              [--model "TRAIN OPTIONS"] [--peer "PEER OPTIONS"]
#
#   --build DIR   a release build tree with the tools built (default: <repo>/build/release)
#   --data DIR    CoNLL-2003 directory (default: $LSTMNER_DATA, else ../shared/data/conll2003
#                 beside the repository); the peer reads DIR/iob2
#   --runs N      runs of each of our measurements; the table shows their median (default 3)
#   --no-torch    skip the PyTorch peer (../shared/peers/torch_bilstm.py beside the repository)
#   --threads L   the thread counts of the scaling table (default "1 2 4 8"; must include 1 and 2)
#   --baseline D  also time another build's tools (e.g. the commit before a change) at 1 and 2
#                 threads in the same run, interleaved with ours, for a before/after table
#   --model O     extra lstmner-train options naming the model measured (default: none, the
#                 defaults), e.g. "--char-encoder bilstm --output crf"
#   --peer O      extra torch_bilstm.py train options for the same model in PyTorch (default:
#                 none, the word model), e.g. "--char --crf --dropout 0.5"
#
# What runs, one after the other:
#   lstmner-train --epochs 2 --benchmark at each thread count: seconds of the training pass of the
#       second epoch (steady state), the test-set tagging rate it prints, and peak RSS (/usr/bin/time)
#   lstmner-tag --input-format conll test.txt --benchmark (batched) at each thread count
#   lstmner-tag --threads 2 --chunk 1 on the test set as raw text, one sentence per line (the latency case)
#   torch_bilstm.py train --threads 2 --epochs 1 (OpenBLAS-OpenMP; it prints the BLAS it mapped)
# Rates are wall-clock: on a loaded machine every figure suffers, ours and the peer's alike, which
# is why the header prints the load average before and after.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
build="$repo/build/release"
data="${LSTMNER_DATA:-$repo/../shared/data/conll2003}"
runs=3
torch=1
thread_counts="1 2 4 8"
baseline=""
model_options=""
peer_options=""
while (($#)); do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --no-torch) torch=0; shift ;;
    --threads) thread_counts="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --model) model_options="$2"; shift 2 ;;
    --peer) peer_options="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "tagger_speed.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
train="$build/examples/lstmner-train"
tag="$build/examples/lstmner-tag"
for f in "$train" "$tag"; do
  [[ -x "$f" ]] || { echo "tagger_speed.sh: $f not found: build the tools first" >&2; exit 2; }
done
if [[ -n "$baseline" ]]; then
  for f in "$baseline/examples/lstmner-train" "$baseline/examples/lstmner-tag"; do
    [[ -x "$f" ]] || { echo "tagger_speed.sh: baseline $f not found" >&2; exit 2; }
  done
fi
[[ " $thread_counts " == *" 1 "* && " $thread_counts " == *" 2 "* ]] ||
  { echo "tagger_speed.sh: --threads must include 1 and 2" >&2; exit 2; }
[[ -f "$data/train.txt" ]] || { echo "tagger_speed.sh: no CoNLL-2003 in $data" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
all() { sort -g | paste -sd' ' -; }
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# One training epoch, the second of two (the first also grows every buffer to the largest batch;
# its seconds are the training pass alone, without the dev scoring), for each
# thread count, runs interleaved so that a change in the machine's load hits every count alike.
# Tag "new" is this build; "base" the --baseline build (1 and 2 threads only).
epoch_run() { # epoch_run LABEL BUILD THREADS
  /usr/bin/time -f "rss_kb %M" "$2/examples/lstmner-train" --data "$data" --epochs 2 --patience 0 \
    --threads "$3" --benchmark -q --model "$work/model_$1" $model_options >"$work/out" 2>&1
  awk '/benchmark: epoch 2 / {print $5}' "$work/out" >>"$work/epoch_$1_$3"
  awk '/benchmark: tagging/ {for (i = 1; i < NF; ++i) if ($i == "tokens_per_second") print $(i + 1)}' "$work/out" >>"$work/tag_in_train_$1_$3"
  awk '/^rss_kb/ {print $2}' "$work/out" >>"$work/rss_$1_$3"
}
for ((i = 0; i < runs; ++i)); do
  for threads in $thread_counts; do
    epoch_run new "$build" "$threads"
    if [[ -n "$baseline" && ("$threads" == 1 || "$threads" == 2) ]]; then
      epoch_run base "$baseline" "$threads"
    fi
  done
done
cp "$work/model_new" "$work/model"
cp "$work/epoch_new_2" "$work/epoch2"
cp "$work/epoch_new_1" "$work/epoch1"
cp "$work/tag_in_train_new_2" "$work/tag_in_train2"
cp "$work/rss_new_2" "$work/rss2"

# Ours: lstmner-tag, batched CoNLL input and one raw-text sentence at a time.
awk 'NF == 0 {if (line != "") print line; line = ""; next} $1 == "-DOCSTART-" {next}
     {line = (line == "" ? $1 : line " " $1)} END {if (line != "") print line}' \
  "$data/test.txt" >"$work/test_raw.txt"
rate() { grep -oE '[0-9.]+ tokens/s|tokens_per_second [0-9.]+' | grep -oE '[0-9.]+' | tail -1; }
tag_run() { # tag_run LABEL BUILD THREADS (the model each build trained above: formats may differ)
  "$2/examples/lstmner-tag" -m "$work/model_$1" --threads "$3" --input-format conll "$data/test.txt" \
    --benchmark 2>&1 >/dev/null | rate >>"$work/tag_conll_$1_$3"
}
for ((i = 0; i < runs; ++i)); do
  for threads in $thread_counts; do
    tag_run new "$build" "$threads"
    if [[ -n "$baseline" && ("$threads" == 1 || "$threads" == 2) ]]; then
      tag_run base "$baseline" "$threads"
    fi
  done
  "$tag" -m "$work/model" --threads 2 --chunk 1 "$work/test_raw.txt" --benchmark 2>&1 >/dev/null |
    rate >>"$work/tag_one"
done

# The peer.
peer_epoch="" peer_tag="" peer_rss="" blas="(not run)"
if ((torch)); then
  /usr/bin/time -f "rss_kb %M" /usr/bin/python3 "$repo/../shared/peers/torch_bilstm.py" train \
    --threads 2 --epochs 1 --data "$data/iob2" $peer_options >"$work/peer" 2>&1 || true
  # A peer that failed (no python3-torch) leaves these empty and the table shows dashes.
  peer_epoch="$(grep -oE '"epoch_s": [0-9.]+' "$work/peer" | grep -oE '[0-9.]+$' | head -1 || true)"
  peer_tag="$(grep -oE '"tag_tokens_per_s": [0-9.]+' "$work/peer" | grep -oE '[0-9.]+$' | head -1 || true)"
  peer_rss="$(awk '/^rss_kb/ {print $2}' "$work/peer")"
  blas="$(grep -oE '"blas": "[^"]*"' "$work/peer" | head -1 | cut -d'"' -f4 || true)"
  [[ -n "$peer_epoch" ]] || { echo "tagger_speed.sh: the PyTorch peer failed:" >&2; tail -3 "$work/peer" >&2; }
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

e2="$(median <"$work/epoch2")" e1="$(median <"$work/epoch1")"
t2="$(median <"$work/tag_in_train2")" tc="$(median <"$work/tag_conll_new_2")" t1="$(median <"$work/tag_one")"
rss="$(median <"$work/rss2")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "—"}'; }
kilo() { awk -v v="$1" 'BEGIN {if (v + 0 > 0) printf "%.1fk", v / 1000; else print "—"}'; }

echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%M:%SZ); lstmner $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "- load average (1, 5, 15 min) before $load_before, after $load_after; medians of $runs runs; peer BLAS: $blas"
echo "- model: lstmner-train ${model_options:-(defaults)}; peer: torch_bilstm.py train ${peer_options:-(word model)}"
echo
echo "| measure | lstmner | PyTorch peer | ratio |"
echo "| --- | --- | --- | --- |"
echo "| one training epoch, 2 threads (s) | $e2 (runs: $(all <"$work/epoch2")) | $(awk -v v="${peer_epoch:-0}" 'BEGIN {if (v + 0 > 0) printf "%.2f", v; else print "—"}') | $(ratio "${peer_epoch:-0}" "$e2") |"
echo "| one training epoch, 1 thread (s) | $e1 (runs: $(all <"$work/epoch1")) | | 2 threads = $(ratio "$e1" "$e2") 1 thread |"
echo "| tagging the test set, batched, in lstmner-train (tok/s) | $(kilo "$t2") | $(kilo "${peer_tag:-0}") | $(ratio "$t2" "${peer_tag:-0}") |"
echo "| tagging with lstmner-tag, CoNLL input (tok/s) | $(kilo "$tc") | | $(ratio "$tc" "${peer_tag:-0}") |"
echo "| tagging one sentence at a time, lstmner-tag --chunk 1 (tok/s) | $(kilo "$t1") | | |"
mb() { awk -v v="$1" 'BEGIN {if (v + 0 > 0) printf "%d", v / 1024; else print "—"}'; }
echo "| peak RSS while training (MB) | $(mb "$rss") | $(mb "${peer_rss:-0}") | |"

echo
echo "Thread scaling (this build; ratios against 2 threads; medians of $runs runs):"
echo
echo "| threads | epoch (s) | epoch speed vs 2 threads | tagging, library (tok/s) | vs 2 threads | lstmner-tag CoNLL (tok/s) | vs 2 threads |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
e_two="$(median <"$work/epoch_new_2")" t_two="$(median <"$work/tag_conll_new_2")"
l_two="$(median <"$work/tag_in_train_new_2")"
for threads in $thread_counts; do
  e="$(median <"$work/epoch_new_$threads")" t="$(median <"$work/tag_conll_new_$threads")"
  l="$(median <"$work/tag_in_train_new_$threads")"
  echo "| $threads | $e | $(ratio "$e_two" "$e") | $(kilo "$l") | $(ratio "$l" "$l_two") | $(kilo "$t") | $(ratio "$t" "$t_two") |"
done
echo
echo "Tagging, library: Tagger::evaluate on the test set inside lstmner-train (batches of 32 shared"
echo "out among the threads); lstmner-tag adds reading, tokenising and writing, done on one thread."
if [[ -n "$baseline" ]]; then
  echo
  echo "Before and after ($baseline against this build, interleaved runs; > 1x: this build is faster):"
  echo
  echo "| threads | epoch before (s) | epoch after (s) | speed-up | tagging before (tok/s) | tagging after (tok/s) | speed-up |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for threads in 1 2; do
    eb="$(median <"$work/epoch_base_$threads")" ea="$(median <"$work/epoch_new_$threads")"
    tb="$(median <"$work/tag_conll_base_$threads")" ta="$(median <"$work/tag_conll_new_$threads")"
    echo "| $threads | $eb | $ea | $(ratio "$eb" "$ea") | $(kilo "$tb") | $(kilo "$ta") | $(ratio "$ta" "$tb") |"
  done
fi
