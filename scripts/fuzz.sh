#!/usr/bin/env bash
# Builds lstmner's libFuzzer targets (the `fuzz` CMake preset: clang++, -fsanitize=fuzzer,address,
# undefined) and runs them. docs/reliability.md says what each target covers.
#
#   scripts/fuzz.sh                        every target for 60 s, two at a time (what CI runs)
#   scripts/fuzz.sh -t 600 conll           one target for 600 s
#   scripts/fuzz.sh -n 10000000 conll      one target for 10 million executions
#   scripts/fuzz.sh -j 1 ...               one target at a time (default: nproc at once)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>) and regression inputs
# (fuzz/regressions/<target>); the inputs it finds go to build/fuzz/work/<target>, never into the
# repository. Limits: -rss_limit_mb=2048 and -malloc_limit_mb=512 (one allocation over 512 MB is a
# finding), -timeout=30 s per input (generous: a hang never ends, but a loaded machine can stall a
# process for seconds). The log of a run is build/fuzz/logs/<target>.log.
# Exit status 1 when any target reports a finding (crash, sanitizer report, leak, timeout,
# out-of-memory, violated invariant); its input is then in build/fuzz/artifacts/<target>/: fix the
# bug and commit the input to fuzz/regressions/<target>/, where the replay tests keep checking it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=
jobs=$(nproc)
while getopts "t:n:j:" flag; do
  case $flag in
    t) seconds=$OPTARG ;;
    n) runs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) echo "usage: scripts/fuzz.sh [-t SECONDS | -n RUNS] [-j JOBS] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

cmake --preset fuzz >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then  # every target fuzz/targets.cmake defines in this tree
  # shellcheck disable=SC2207
  targets=($(cmake --build --preset fuzz --target help | sed -n 's/^\.\.\. fuzz_\(.*\)$/\1/p'))
fi
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

build=build/fuzz
limit=(-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=30 -print_final_stats=1)
if [[ -n "$runs" ]]; then limit+=(-runs="$runs"); else limit+=(-max_total_time="$seconds"); fi

run_target() {
  local target=$1
  local work=$build/work/$target artifacts=$build/artifacts/$target
  mkdir -p "$work" "$artifacts" "$build/logs"
  local status=0
  "$build/fuzz/fuzz_$target" "${limit[@]}" -artifact_prefix="$artifacts/" \
    "$work" "fuzz/corpus/$target" "fuzz/regressions/$target" >"$build/logs/$target.log" 2>&1 ||
    status=$?
  echo "$status" >"$build/logs/$target.status"
}

failed=()
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  rm -f "$build/logs/$target.status"
  run_target "$target" &
done
wait
for target in "${targets[@]}"; do
  if [[ "$(cat "$build/logs/$target.status" 2>/dev/null)" == 0 ]]; then
    stats=$(grep -E '^stat::number_of_executed_units' "$build/logs/$target.log" | awk '{print $2}')
    echo "fuzz $target: no finding in ${stats:-?} executions"
  else
    failed+=("$target")
    echo "fuzz $target: FINDING (log: $build/logs/$target.log, input: $build/artifacts/$target/)"
    grep -E 'ERROR|SUMMARY|invariant' "$build/logs/$target.log" | head -5 || true
  fi
done
((${#failed[@]} == 0))
