#!/usr/bin/env bash
# stream_memory.sh: lstmner-tag's peak memory and speed as the input grows, streaming window by
# window, against tagging the whole input at once (--window 0, how lstmner-tag tagged before it
# streamed). Prints one Markdown table (paste-able into docs/performance.md).
#
# Usage:
#   benchmarks/stream_memory.sh [--build DIR] [--model M] [--source FILE] [--sizes "1M 1G"]
#                               [--whole-max SIZE] [--threads N] [--window N] [--runs N]
#                               [--tmp DIR] [--parallel J]
#
#   --build DIR      a release build tree with the tools built (default: <repo>/build/release)
#   --model M        the model to tag with (default: one trained here on the sample corpus for one
#                    epoch with the default architecture: speed depends on the shape, not on the
#                    weights)
#   --source FILE    CoNLL file repeated to make each input (default: $LSTMNER_DATA/test.txt, else
#                    ../shared/data/conll2003/test.txt beside the repository, else the sample
#                    corpus's test.txt)
#   --sizes LIST     input sizes, K/M/G suffixes (default "1M 1G"); each input is whole copies of
#                    the source, at least that large
#   --whole-max SIZE also tag the whole input at once (--window 0) for inputs up to SIZE (default
#                    64M: the whole of a 1 GB input needs many GB)
#   --threads N      lstmner-tag --threads (default 2)
#   --window N       lstmner-tag --window (default: the tool's default)
#   --runs N         runs of each measurement; the table shows their median (default 1)
#   --tmp DIR        where the inputs are written (default: $TMPDIR or /tmp); deleted at the end
#   --parallel J     also time the local GNU parallel form of docs/scale.md on each input:
#                    parallel --pipe -k -jJ --block 10M --recend '\n\n' lstmner-tag --threads 1
#                    (its peak RSS is the largest single process's, not the sum)
#
# Each run is `/usr/bin/time -f '%M %e' lstmner-tag --input-format conll --benchmark`, output to
# /dev/null: peak RSS, wall-clock seconds, and the tokens and seconds spent in Tagger::predict.
# "tok/s" is tokens over wall-clock time (reading, parsing, writing included: what a user waits
# for); "predict tok/s" leaves reading and writing out. Rates are wall-clock: run on a quiet
# machine (the header prints the load average before and after).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
build="$repo/build/release"
model=""
data="${LSTMNER_DATA:-$repo/../shared/data/conll2003}"
source_file=""
sizes="1M 1G"
whole_max="64M"
threads=2
window=""
runs=1
tmp="${TMPDIR:-/tmp}"
parallel_jobs=""
while (($#)); do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --source) source_file="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --whole-max) whole_max="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --tmp) tmp="$2"; shift 2 ;;
    --parallel) parallel_jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "stream_memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

bytes_of() {  # 1M -> 1048576
  local v=$1 n=${1%[KkMmGg]}
  case "$v" in
    *[Kk]) echo $((n * 1024)) ;;
    *[Mm]) echo $((n * 1024 * 1024)) ;;
    *[Gg]) echo $((n * 1024 * 1024 * 1024)) ;;
    *) echo "$n" ;;
  esac
}

tag="$build/examples/lstmner-tag"
train="$build/examples/lstmner-train"
[[ -x "$tag" ]] || { echo "stream_memory.sh: $tag not found: build the tools first" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "stream_memory.sh: /usr/bin/time not found (Debian: time)" >&2; exit 2; }
if [[ -z "$source_file" ]]; then
  source_file="$data/test.txt"
  [[ -f "$source_file" ]] || source_file="$repo/examples/data/sample/test.txt"
fi
[[ -f "$source_file" ]] || { echo "stream_memory.sh: no source file $source_file" >&2; exit 2; }

work=$(mktemp -d "$tmp/lstmner-stream.XXXXXX")
trap 'rm -rf "$work"' EXIT

largest=0
for s in $sizes; do
  b=$(bytes_of "$s")
  ((b > largest)) && largest=$b
done
free=$(($(df -Pk "$work" | awk 'NR == 2 { print $4 }') * 1024))
if ((free < largest + largest / 10 + 100 * 1024 * 1024)); then
  echo "stream_memory.sh: $work has $((free >> 20)) MB free, the largest input needs $((largest >> 20)) MB (--tmp DIR)" >&2
  exit 2
fi

if [[ -z "$model" ]]; then
  [[ -x "$train" ]] || { echo "stream_memory.sh: $train not found" >&2; exit 2; }
  model="$work/model"
  "$train" --data "$repo/examples/data/sample" --epochs 1 --patience 0 -q --model "$model" \
    >/dev/null 2>"$work/train.err" || { cat "$work/train.err" >&2; exit 1; }
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

if [[ -n "$parallel_jobs" ]] && ! command -v parallel >/dev/null; then
  echo "stream_memory.sh: --parallel needs GNU parallel (scripts/install-deps.sh)" >&2
  exit 2
fi

# measure MODE FILE WINDOW_OPTION...: prints "rss_mb wall_s tokens predict_s" (medians over
# --runs). MODE parallel: predict_s is 0 (each process prints its own).
measure() {
  local mode=$1 file=$2
  shift 2
  : >"$work/rss"; : >"$work/wall"; : >"$work/predict"
  local tokens=0
  for ((r = 0; r < runs; ++r)); do
    if [[ $mode == parallel ]]; then
      /usr/bin/time -f '%M %e' -o "$work/time" parallel --will-cite --pipe -k -j"$parallel_jobs" \
        --block 10M --recend '\n\n' "$tag" -m "$model" --input-format conll --threads 1 \
        --benchmark "$@" <"$file" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
      read -r rss wall <"$work/time"
      echo "$rss" >>"$work/rss"
      echo "$wall" >>"$work/wall"
      tokens=$(awk '/^benchmark: tagged/ { n += $3 } END { print n }' "$work/err")
      echo 0 >>"$work/predict"
      continue
    fi
    /usr/bin/time -f '%M %e' -o "$work/time" "$tag" -m "$model" --input-format conll \
      --threads "$threads" --benchmark "$@" "$file" >/dev/null 2>"$work/err" ||
      { cat "$work/err" >&2; exit 1; }
    read -r rss wall <"$work/time"
    echo "$rss" >>"$work/rss"
    echo "$wall" >>"$work/wall"
    # "benchmark: tagged N tokens in S s: R tokens/s"
    tokens=$(awk '/^benchmark: tagged/ { print $3 }' "$work/err")
    awk '/^benchmark: tagged/ { print $6 }' "$work/err" >>"$work/predict"
  done
  echo "$(median <"$work/rss" | awk '{ printf "%.1f", $1 / 1024 }') $(median <"$work/wall") $tokens $(median <"$work/predict")"
}

window_opt=()
[[ -n "$window" ]] && window_opt=(--window "$window")
echo "## lstmner-tag: streaming memory and speed"
echo
echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- model: $model; source: $source_file ($(wc -c <"$source_file") bytes), repeated"
echo "- lstmner-tag --input-format conll --threads $threads ${window_opt[*]:-} (window default: see lstmner-tag --help); median of $runs run(s)"
echo
echo "| input | bytes | tokens | mode | peak RSS (MB) | wall (s) | tok/s | predict tok/s |"
echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
first_rss="" last_rss="" whole_rate="" stream_rate_small=""
for s in $sizes; do
  target=$(bytes_of "$s")
  src_bytes=$(wc -c <"$source_file")
  copies=$(((target + src_bytes - 1) / src_bytes))
  input="$work/input_$s.txt"
  for ((i = 0; i < copies; ++i)); do cat "$source_file"; done >"$input"
  bytes=$(wc -c <"$input")
  modes=(stream)
  (($(bytes_of "$whole_max") >= bytes)) && modes+=(whole)
  [[ -n "$parallel_jobs" ]] && modes+=(parallel)
  for mode in "${modes[@]}"; do
    if [[ $mode == whole ]]; then opt=(--window 0); else opt=("${window_opt[@]}"); fi
    result=$(measure "$mode" "$input" "${opt[@]}")
    read -r rss wall tokens predict <<<"$result"
    rate=$(awk -v t="$tokens" -v w="$wall" 'BEGIN { printf "%.0f", t / (w > 0 ? w : 1e-9) }')
    prate=$(awk -v t="$tokens" -v p="$predict" 'BEGIN { if (p > 0) printf "%.0f", t / p; else printf "-" }')
    label=$mode
    [[ $mode == parallel ]] && label="parallel -j$parallel_jobs, --threads 1 each"
    echo "| $s | $bytes | $tokens | $label | $rss | $wall | $rate | $prate |"
    if [[ $mode == stream ]]; then
      [[ -z "$first_rss" ]] && { first_rss=$rss; stream_rate_small=$rate; }
      last_rss=$rss
    elif [[ $mode == whole && -z "$whole_rate" ]]; then
      whole_rate=$rate
    fi
  done
  rm -f "$input"
done
echo
awk -v a="$first_rss" -v b="$last_rss" 'BEGIN { printf "- peak RSS, largest input against smallest (streaming): %.2fx (goal: at most 1.5x)\n", b / a }'
if [[ -n "$whole_rate" ]]; then
  awk -v s="$stream_rate_small" -v w="$whole_rate" 'BEGIN { printf "- speed, streaming against the whole input at once (smallest input, wall clock): %.2fx (goal: at least 0.9x)\n", s / w }'
fi
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
