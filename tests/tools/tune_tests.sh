#!/usr/bin/env bash
# Command-line tests of lstmner-tune: the command line, random and grid search, the median
# stopping rule, resuming after SIGTERM and after SIGKILL (no trial lost, none run twice),
# --final-seeds, and a real search with lstmner-train on the sample corpus. Most trials are
# tests/tools/fake_trial.sh, which behaves like lstmner-train without training (seconds).
# Usage: tune_tests.sh BIN_DIR SAMPLE_DIR
set -uo pipefail
bin=$(cd "$1" && pwd)
sample=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
fake="$here/fake_trial.sh"
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
py() { python3 - "$@"; }

touch "$work/data.txt"
data=(--train "$work/data.txt" --dev "$work/data.txt" --test "$work/data.txt")
tune() { "$bin/lstmner-tune" "${data[@]}" --train-command "$fake" "$@"; }

# --- the command line -----------------------------------------------------------------------------
expect_exit 0 "--help" "$bin/lstmner-tune" --help
expect_exit 0 "--version" "$bin/lstmner-tune" --version
check "  ... names the tool and version" grep -q "^lstmner-tune [0-9]" "$work/out"
expect_exit 2 "no search space" tune --dir "$work/x"
check "  ... says so with the error prefix" grep -q "^lstmner-tune: error: no search space" "$work/err"
expect_exit 2 "an unknown option" tune --dir "$work/x" --frobnicate
check "  ... with the error prefix" grep -q "^lstmner-tune: error:" "$work/err"
expect_exit 2 "a malformed --param" tune --dir "$work/x" --param lr=loguniform:1e-3
expect_exit 2 "a loguniform range through 0" tune --dir "$work/x" --param lr=loguniform:0:1
expect_exit 2 "an option lstmner-tune owns" tune --dir "$work/x" --param seed=int:1:5
expect_exit 2 "an owned option after --" tune --dir "$work/x" --param lr=uniform:0.1:0.2 -- --threads 4
expect_exit 2 "--grid with a continuous dimension" tune --dir "$work/x" --grid --param lr=uniform:0.1:0.2
printf '{"lr": {"loguniform": [1e-3]}}' >"$work/bad_space.json"
expect_exit 2 "a bad space file" tune --dir "$work/x" --space "$work/bad_space.json"
check "  ... naming it" grep -q "bad_space.json" "$work/err"
expect_exit 2 "no data" env -u LSTMNER_DATA "$bin/lstmner-tune" --dir "$work/x" --param lr=uniform:0.1:0.2

# --- random search and the median stopping rule --------------------------------------------------
expect_exit 0 "random search, 10 trials, 2 jobs, final seeds" \
  tune --dir "$work/r" --param lr=loguniform:1e-5:1e-1 --trials 10 --jobs 2 --final-seeds 3 --report
cp "$work/err" "$work/r.err"
check "summary table printed, best command line given" grep -q "^best: trial" "$work/out"
check "report written" test -s "$work/r/report.html"
py "$work/r" 6 <<'EOF' && ok "trials.jsonl: every trial once, the rule applied as documented" || not_ok "trials.jsonl: every trial once, the rule applied as documented"
import json, math, os, sys
d, epochs = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(d + "/trials.jsonl")]
ids = sorted(r["trial"] for r in rows)
assert ids == list(range(10)), ids
stopped = [r for r in rows if r["status"] == "stopped"]
assert stopped, "the median rule stopped no trial"
for r in rows:
    if r["status"] == "ok":
        assert r["epochs_run"] == epochs, r
    else:
        assert r["status"] == "stopped" and r["epochs_run"] < epochs, r
        # The decision, recorded by the tuner: its best so far below the median of others.
        note = open(os.path.join(r["dir"], "stopped_by_median_rule")).read().split()
        e, mine, med = int(note[1].rstrip(":")), float(note[5]), float(note[8])
        assert e >= 3 and mine < med, note
        assert abs(mine - max(r["dev_f1"][:e])) < 1e-3, (note, r["dev_f1"])
# The best trial is the finished one whose --lr is closest to 0.003 (fake_trial's optimum).
best = json.load(open(d + "/summary.json"))["best"]
ok_rows = [r for r in rows if r["status"] == "ok"]
closest = min(ok_rows, key=lambda r: abs(math.log10(r["config"]["lr"] / 0.003)))
assert best["trial"] == closest["trial"], (best, closest)
assert best["command"].startswith("lstmner-train ") and "--lr %g" % closest["config"]["lr"] in best["command"], best
final = json.load(open(d + "/summary.json"))["final"]
assert sorted(r["seed"] for r in final["runs"]) == [1, 2, 3], final
assert all(r["trial"] == best["trial"] for r in final["runs"])
tests = [r["test_f1"] for r in final["runs"]]
m = sum(tests) / 3
assert abs(final["test_f1_mean"] - m) < 1e-9
assert abs(final["test_f1_sd"] - math.sqrt(sum((t - m) ** 2 for t in tests) / 2)) < 1e-9
EOF
check "each trial has its own seed" \
  test "$(py "$work/r/trials.jsonl" <<<'import json,sys; print(len({json.loads(l)["seed"] for l in open(sys.argv[1])}))')" = 10
check "report's numbers match summary.json" python3 "$here/check_report.py" "$work/r/report.html" "$work/r/summary.json"
expect_exit 0 "running again with everything done runs nothing" \
  tune --dir "$work/r" --param lr=loguniform:1e-5:1e-1 --trials 10 --jobs 2 --final-seeds 3
check "  ... no trial started" bash -c "! grep -q started '$work/err'"
expect_exit 2 "resuming with another space is refused" \
  tune --dir "$work/r" --param lr=loguniform:1e-4:1e-1 --trials 10
check "  ... naming what differs" grep -q "another space" "$work/err"

# --- grid search -------------------------------------------------------------------------------------
expect_exit 0 "grid search over two choice dimensions" \
  tune --dir "$work/g" --grid --param lr=choice:0.001,0.003 --param batch-size=choice:8,16 --no-median-stop -- --epochs 2
check "  ... every point once" py "$work/g/trials.jsonl" <<'EOF'
import json, sys
points = sorted((json.loads(l)["config"]["lr"], json.loads(l)["config"]["batch-size"]) for l in open(sys.argv[1]))
assert points == sorted((lr, b) for lr in (0.001, 0.003) for b in (8, 16)), points
EOF

# --- resuming: SIGTERM, then SIGKILL -------------------------------------------------------------------
resume_args=(--param lr=loguniform:1e-4:1e-2 --trials 6 --jobs 2 --no-median-stop -- --epochs 4)
export FAKE_TRIAL_EPOCH_SECONDS=0.15
for signal in TERM KILL; do
  d="$work/resume_$signal"
  export FAKE_TRIAL_LOG="$work/resume_$signal.log"
  : >"$FAKE_TRIAL_LOG"
  # exec: $! is lstmner-tune itself, not a subshell around it.
  (exec "$bin/lstmner-tune" "${data[@]}" --train-command "$fake" --dir "$d" "${resume_args[@]}" \
     >"$work/out" 2>"$work/err") &
  pid=$!
  for _ in $(seq 1 300); do  # until two trials are done and two more running (30 s at most)
    [[ -s "$d/trials.jsonl" && $(wc -l <"$d/trials.jsonl") -ge 2 ]] && break
    sleep 0.1
  done
  sleep 0.3
  kill -"$signal" $pid
  wait $pid
  code=$?
  want=$([[ $signal == TERM ]] && echo 143 || echo 137)
  check "SIG$signal stops lstmner-tune (exit $code)" test "$code" = "$want"
  before=$(wc -l <"$d/trials.jsonl" 2>/dev/null || echo 0)
  check "  ... some trials done before the kill, not all ($before)" test "$before" -ge 1 -a "$before" -lt 6
  expect_exit 0 "  ... and starting it again finishes the search" tune --dir "$d" "${resume_args[@]}"
  py "$d/trials.jsonl" "$FAKE_TRIAL_LOG" "$signal" <<'EOF' && ok "  ... no trial lost, none run twice" || not_ok "  ... no trial lost, none run twice"
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["trial"] for r in rows) == list(range(6)), rows
assert all(r["status"] == "ok" for r in rows), rows
log = [l.split() for l in open(sys.argv[2])]
ends = collections.Counter(d for kind, d in log if kind == "end")
starts = collections.Counter(d for kind, d in log if kind == "start")
assert len(ends) == 6 and set(ends.values()) == {1}, ends  # every trial completed exactly once
if sys.argv[3] == "KILL":
    # The orphaned trials ran on; the new lstmner-tune waited for them instead of starting
    # them again: every trial started exactly once.
    assert set(starts.values()) == {1}, starts
EOF
done
unset FAKE_TRIAL_LOG FAKE_TRIAL_EPOCH_SECONDS

# --- a failing trial is recorded, the search goes on ----------------------------------------------------
expect_exit 0 "a failing trial does not stop the search" \
  tune --dir "$work/f" --grid --param lr=choice:0.001,0.003 --no-median-stop -- --fail-if-lr 0.003
check "  ... both recorded, one failed with its exit code and error" py "$work/f/trials.jsonl" <<'EOF'
import json, sys
rows = {json.loads(l)["config"]["lr"]: json.loads(l) for l in open(sys.argv[1])}
assert rows[0.001]["status"] == "ok", rows
assert rows[0.003]["status"] == "failed" and rows[0.003]["exit_code"] == 3, rows
assert "fake failure" in rows[0.003]["error"] and rows[0.003]["best_dev_f1"] is None, rows
EOF
expect_exit 1 "every trial failing is an error" \
  tune --dir "$work/f2" --grid --param lr=choice:0.003 -- --fail-if-lr 0.003
check "  ... saying so" grep -q "every trial failed" "$work/err"

# --- a real search: lstmner-train on the sample corpus -----------------------------------------------------
expect_exit 0 "a real search with lstmner-train on the sample corpus" \
  "$bin/lstmner-tune" --dir "$work/real" --data "$sample" --param lr=loguniform:0.003:0.01 \
  --param hidden=choice:16,32 --trials 3 --jobs 2 --final-seeds 2 --report \
  -- --emb-dim 16 --casing-dim 4 --epochs 3 --batch-size 8
check "  ... three trials finished" test "$(grep -c '"status":"ok"' "$work/real/trials.jsonl")" = 3
check "  ... two final runs scored on test" test "$(grep -c '"test_f1"' "$work/real/final.jsonl")" = 2
check "  ... the final models kept" test -s "$(ls "$work"/real/final/*/model | head -1)"
check "  ... report's numbers match summary.json" \
  python3 "$here/check_report.py" "$work/real/report.html" "$work/real/summary.json"
best_command=$(py "$work/real/summary.json" <<<'import json,sys; print(json.load(open(sys.argv[1]))["best"]["command"])')
(cd "$work" && eval "\"\$bin/lstmner-train\" ${best_command#lstmner-train} -q") >/dev/null 2>&1
check "  ... the best command line runs and saves best.model" test -s "$work/best.model"

finish
