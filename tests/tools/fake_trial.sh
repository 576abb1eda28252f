#!/usr/bin/env bash
# A stand-in for lstmner-train in lstmner-tune's tests: the same command line and the same
# files (--progress: a JSON line per epoch; --metrics-json at the end, or on SIGTERM with
# "interrupted": true), but no training: the dev F1 of epoch e is q * (1 - 0.6^e), where
# q = 90 - 20 * |log10(lr / 0.003)|, so a trial's worth depends on --lr alone, and each epoch
# takes FAKE_TRIAL_EPOCH_SECONDS (default 0.05). With FAKE_TRIAL_LOG set, appends
# "start DIR" and "end DIR" lines to it (DIR: the directory of --metrics-json). --fail-if-lr V
# makes the trial whose --lr is V fail (exit 3).
set -uo pipefail
lr=0.001 epochs=6 metrics='' progress='' test='' seed=1 fail_lr=''
config=''
while (($#)); do
  case $1 in
    --lr) lr=$2; config+="\"lr\": $2, "; shift 2 ;;
    --epochs) epochs=$2; config+="\"epochs\": $2, "; shift 2 ;;
    --metrics-json) metrics=$2; shift 2 ;;
    --progress) progress=$2; shift 2 ;;
    --test) test=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --train|--dev|--threads|--model) shift 2 ;;
    -q) shift ;;
    --fail-if-lr) fail_lr=$2; shift 2 ;;
    --*) if [[ $# -ge 2 && $2 != --* ]]; then config+="\"${1#--}\": \"$2\", "; shift 2;
         else config+="\"${1#--}\": true, "; shift; fi ;;
    *) echo "fake_trial: unexpected argument $1" >&2; exit 2 ;;
  esac
done
if [[ -n $fail_lr && $lr == "$fail_lr" ]]; then echo "fake failure" >&2; exit 3; fi
dir=$(dirname "$metrics")
[[ -n ${FAKE_TRIAL_LOG:-} ]] && echo "start $dir" >>"$FAKE_TRIAL_LOG"
# q, then the dev F1 of every epoch, in one awk run (forks are what costs time here).
read -r -a curve <<<"$(awk -v lr="$lr" -v n="$epochs" 'BEGIN {
  d = log(lr / 0.003) / log(10); if (d < 0) d = -d; q = 90 - 20 * d; printf "%s", q
  for (e = 1; e <= n; e++) printf " %.6f", q * (1 - 0.6 ^ e) }')"
q=${curve[0]}
curve=("${curve[@]:1}")
interrupted=false
trap 'interrupted=true' TERM
: >"$progress"
epoch_lines='' best=-1 best_epoch=0 done_epochs=0
start=$EPOCHREALTIME
for ((e = 1; e <= epochs; e++)); do
  sleep "${FAKE_TRIAL_EPOCH_SECONDS:-0.05}" &
  wait $!
  [[ $interrupted == true ]] && break
  f1=${curve[e - 1]}
  line="{\"epoch\": $e, \"train_loss\": 0.5, \"dev_f1\": $f1, \"dev_precision\": $f1, \"dev_recall\": $f1, \"train_seconds\": 0.01, \"eval_seconds\": 0.0, \"tokens_per_second\": 1000.0, \"best\": true}"
  echo "$line" >>"$progress"
  epoch_lines+="${epoch_lines:+, }$line"
  best=$f1 best_epoch=$e done_epochs=$e
done
seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
test_json=''
if [[ -n $test && $interrupted == false ]]; then
  test_json=", \"test\": {\"micro\": {\"precision\": 0.8, \"recall\": 0.8, \"f1\": $(awk -v q="$q" -v s="$seed" 'BEGIN { printf "%.6f", (q - 5 + s / 10) / 100 }')}}"
fi
cat >"$metrics.tmp" <<EOF
{"config": {${config}"seed": $seed}, "epochs": [$epoch_lines], "epochs_run": $done_epochs,
 "best_epoch": $best_epoch, "best_dev_f1": $best, "stopped_early": false,
 "total_seconds": $seconds, "interrupted": $interrupted$test_json}
EOF
mv "$metrics.tmp" "$metrics"
if [[ $interrupted == true ]]; then exit 143; fi
[[ -n ${FAKE_TRIAL_LOG:-} ]] && echo "end $dir" >>"$FAKE_TRIAL_LOG"
exit 0
