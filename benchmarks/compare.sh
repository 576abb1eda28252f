#!/usr/bin/env bash
# compare.sh: lstmner's LSTM kernels against their peers, measured in one go on the same cores,
# printed as ONE Markdown table (paste-able into docs/performance.md).
#
# Usage:
#   benchmarks/compare.sh [--build DIR] [--repetitions N] [--min-time S] [--core C]
#                         [--no-torch] [--keep DIR] [--clock wall|cpu] [--from DIR]
#
#   --build DIR       build tree configured with -DLSTMNER_BUILD_BENCHMARKS=ON, in which
#                     `cmake --build DIR --target bench_lstm bench_onednn_lstm fma_peak` was run
#                     (default: <repo>/build). A missing bench_lstm or bench_onednn_lstm is not an
#                     error: its columns print "—".
#   --repetitions N   Google Benchmark repetitions; the table shows their median (default 5)
#   --min-time S      minimum seconds per repetition (default 0.5)
#   --core C          the core single-thread runs are pinned to with taskset (default 1; the
#                     2-thread cases run unpinned on all cores)
#   --no-torch        skip the PyTorch peer (../shared/peers/torch_bilstm.py, next to the repo)
#   --keep DIR        keep the raw JSON outputs in DIR (default: a temporary directory, deleted)
#   --from DIR        no run: print the table again from the JSON a --keep DIR run left there
#   --clock cpu|wall  cpu (default): single-thread rates over the benchmark thread's CPU time
#                     (1-thread /real_time cases are rescaled by real_time/cpu_time), which leaves
#                     out the time other processes take on a shared machine, so ours and oneDNN
#                     compare fairly even when the load changes between their runs; multi-thread
#                     cases stay wall-clock. wall: every Google Benchmark rate over wall-clock time
#                     (rescaled by cpu_time/real_time). PyTorch's peer can only time wall-clock: on
#                     a loaded machine its column and the ours/PyTorch ratio flatter us, which is
#                     why the header prints the load average before and after the run.
#
# What runs (all float32, T = 32):
#   fma_peak             the single-core FMA peak of the build's vector width ("% of peak" base)
#   bench_lstm           ours: lstm_forward, lstm_forward_backward, bilstm_forward
#   bench_onednn_lstm    oneDNN 2.x: the same cases (benchmarks/peers/onednn_lstm.cpp)
#   torch_bilstm.py cell PyTorch (nn.LSTM) with 1 thread; it prints which BLAS it mapped, and is
#                        only a fair peer on OpenBLAS (apt-get install libopenblas0-openmp)
# Single-thread benchmarks run with OMP_NUM_THREADS=1 under `taskset -c C`, one after the other.
# Other OpenMP settings pass through from the environment. On a loaded machine, OpenMP's default
# spin-waiting makes the 2-thread cases of the OpenMP peers collapse (oneDNN's bidirectional case
# measured 6x slower than with OMP_WAIT_POLICY=PASSIVE at load 4.5 on 2 cores): there, run
#   OMP_WAIT_POLICY=PASSIVE benchmarks/compare.sh ...
# to give them a fair chance, and say so next to the figures.
#
# Table: tokens/s (median), GFLOP/s with 2*4H*(In+H) FLOPs per token per direction (x3 for
# forward+backward), % of the FMA peak (peak x threads for multi-thread rows), ratios ours/peer.
# The oneDNN forward figure is the better of its inference forward and its training forward (its
# inference path is not always the faster one); a "*" marks rows where training won.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
build="$repo/build"
repetitions=5
min_time=0.5
core=1
torch=1
keep=""
clock=cpu
from=""

while (($#)); do
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --repetitions) repetitions="$2"; shift 2 ;;
    --min-time) min_time="$2"; shift 2 ;;
    --core) core="$2"; shift 2 ;;
    --no-torch) torch=0; shift ;;
    --keep) keep="$2"; shift 2 ;;
    --from) from="$(cd "$2" && pwd)"; shift 2 ;;
    --clock) clock="$2"; shift 2
             [[ "$clock" == wall || "$clock" == cpu ]] || { echo "compare.sh: --clock wall|cpu" >&2; exit 2; } ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -n "$from" ]]; then
  out="$from"
elif [[ -n "$keep" ]]; then
  mkdir -p "$keep"; out="$(cd "$keep" && pwd)"
else
  out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
fi

pin=()
if command -v taskset >/dev/null && taskset -c "$core" true 2>/dev/null; then
  pin=(taskset -c "$core")
else
  echo "compare.sh: taskset -c $core not available, single-thread runs are not pinned" >&2
fi

find_binary() {  # the first existing executable named $1 under the build tree
  local path
  for path in "$build/benchmarks/$1" "$build/benchmarks/peers/$1" "$build/$1"; do
    [[ -x "$path" ]] && { echo "$path"; return 0; }
  done
  return 0  # not built: an empty answer, not an error
}

bench_args=(--benchmark_repetitions="$repetitions" --benchmark_min_time="$min_time"
            --benchmark_report_aggregates_only=true --benchmark_format=console)

run_bench() {  # run_bench NAME BINARY OUTPUT.json [extra args...]: pinned, 1 thread
  local name="$1" binary="$2" json="$3"; shift 3
  echo "== $name (pinned to core $core): $binary" >&2
  OMP_NUM_THREADS=1 "${pin[@]}" "$binary" "${bench_args[@]}" --benchmark_out="$json" \
    --benchmark_out_format=json "$@" >&2
}

run_bench_unpinned() {  # the multi-thread cases: every core, threads set by the benchmark itself
  local name="$1" binary="$2" json="$3"; shift 3
  echo "== $name (unpinned): $binary" >&2
  OMP_NUM_THREADS=1 "$binary" "${bench_args[@]}" --benchmark_out="$json" \
    --benchmark_out_format=json "$@" >&2
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$from" ]]; then  # re-print only: no runs
  load_before="n/a (--from)"
else
  fma="$(find_binary fma_peak)"
  ours="$(find_binary bench_lstm)"
  onednn="$(find_binary bench_onednn_lstm)"

  [[ -n "$fma" ]] && run_bench fma_peak "$fma" "$out/fma_peak.json"
  if [[ -n "$ours" ]]; then
    run_bench bench_lstm "$ours" "$out/ours.json" --benchmark_filter='-threads:2'
    run_bench_unpinned bench_lstm "$ours" "$out/ours_mt.json" --benchmark_filter='threads:2'
  else
    echo "compare.sh: no bench_lstm in $build: our columns print —" >&2
  fi
  if [[ -n "$onednn" ]]; then
    run_bench bench_onednn_lstm "$onednn" "$out/onednn.json" --benchmark_filter='-threads:2'
    run_bench_unpinned bench_onednn_lstm "$onednn" "$out/onednn_mt.json" \
      --benchmark_filter='threads:2'
  else
    echo "compare.sh: no bench_onednn_lstm in $build (oneDNN not found at configure time?)" >&2
  fi
  torch_script="$repo/../shared/peers/torch_bilstm.py"
  if ((torch)) && [[ -f "$torch_script" ]]; then
    echo "== PyTorch (pinned to core $core): $torch_script cell --threads 1" >&2
    OMP_NUM_THREADS=1 "${pin[@]}" /usr/bin/python3 "$torch_script" cell --threads 1 \
      | tee "$out/torch.jsonl" >&2
  elif ((torch)); then
    echo "compare.sh: $torch_script not found: PyTorch columns print —" >&2
  fi
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
[[ -n "$from" ]] && load_after="n/a (--from)"
cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
/usr/bin/python3 - "$out" "$cpu" "$core" "$repetitions" "$commit" "$clock" \
  "$load_before" "$load_after" <<'PYTHON'
import datetime, json, os, re, sys

out, cpu, core, repetitions, commit, clock, load_before, load_after = sys.argv[1:9]
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def load(name):
    """Median aggregates of a Google Benchmark JSON file: {run_name: entry}, plus its context."""
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        data = json.load(f)
    runs = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        runs[b.get("run_name", b["name"])] = b  # medians, or single runs without repetitions
    return runs, data.get("context", {})


def case_key(run_name):
    """('forward' | 'forward_backward' | 'forward_training' | 'bilstm_forward' | ..., in, h, b, t,
    threads) from a benchmark name like onednn_lstm_forward/in:256/h:256/b:32/t:32/threads:2."""
    parts = [p for p in run_name.split("/") if p not in ("real_time", "manual_time")]
    kind = re.sub(r"^onednn_", "", parts[0])
    kind = re.sub(r"^lstm_", "", kind)
    args = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    return (kind, int(args.get("in", 0)), int(args.get("h", 0)), int(args.get("b", 0)),
            int(args.get("t", 0)), int(args.get("threads", 1)))


def figures(*names):
    """{case: (tokens/s, GFLOP/s)} on the chosen clock."""
    table = {}
    for name in names:
        runs, _ = load(name)
        for run_name, b in runs.items():
            if "tokens_per_second" not in b:
                continue
            tokens, gflops = b["tokens_per_second"], b.get("GFLOP/s")
            key = case_key(run_name)
            on_wall = run_name.endswith("/real_time")  # rates already over wall-clock time
            scale = 1.0
            if b.get("real_time") and b.get("cpu_time"):
                if clock == "wall" and not on_wall:
                    scale = b["cpu_time"] / b["real_time"]
                elif clock == "cpu" and on_wall and key[5] == 1:
                    scale = b["real_time"] / b["cpu_time"]
            table[key] = (tokens * scale, gflops * scale if gflops else gflops)
    return table


ours = figures("ours.json", "ours_mt.json")
onednn = figures("onednn.json", "onednn_mt.json")
# oneDNN's forward: the better of inference and training forward.
onednn_training_won = set()
for key, value in list(onednn.items()):
    if key[0] == "forward_training":
        fwd = ("forward",) + key[1:]
        if fwd not in onednn or value[0] > onednn[fwd][0]:
            onednn[fwd] = value
            onednn_training_won.add(fwd)
        del onednn[key]

torch, blas = {}, None
torch_path = os.path.join(out, "torch.jsonl")
if os.path.exists(torch_path):
    with open(torch_path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("bench") != "lstm_layer":
                continue
            blas = r.get("blas")
            kind = ("bilstm_" if r["bidirectional"] else "") + r["mode"]
            key = (kind, r["input"], r["hidden"], r["batch"], r["T"], r["threads"])
            torch[key] = (r["tokens_per_s"], r["gflops"])

fma_runs, fma_context = load("fma_peak.json")
peak, peak_bits = None, fma_context.get("fma_peak_build_bits")
peak_name = f"fma_peak/bits:{peak_bits}"
if peak_name in fma_runs:
    peak = fma_runs[peak_name]["gflops"]  # the counter is already in GFLOP/s

order = {"forward": 0, "forward_backward": 1, "bilstm_forward": 2}
keys = sorted(set(ours) | set(onednn),
              key=lambda k: (order.get(k[0], 9), k[0], k[5], k[1], k[3]))


def tok(x):
    if x is None:
        return "—"
    return f"{x / 1e3:.1f}k" if x < 1e6 else f"{x / 1e6:.2f}M"


def num(x, fmt="{:.1f}"):
    return "—" if x is None else fmt.format(x)


def pct(gflops, threads):
    if gflops is None or not peak:
        return "—"
    return f"{100 * gflops / (peak * threads):.0f}%"


def ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}×"


print(f"\n### LSTM layer, float32, T = 32 — median of {repetitions} repetitions\n")
_, fma_context = load("fma_peak.json")
when = fma_context.get("date") or f"{datetime.datetime.utcnow():%Y-%m-%dT%H:%M}"
print(f"- CPU: {cpu}; {when}; lstmner {commit}; "
      f"1 thread pinned to core {core} unless the case says threads:2 (then unpinned)")
print(f"- rates over {'wall-clock' if clock == 'wall' else 'CPU'} time"
      f"{'' if clock == 'wall' else ' (threads:2 rows and PyTorch: wall-clock)'}; "
      f"load average (1, 5, 15 min) "
      f"before {load_before}, after {load_after} on {os.cpu_count()} CPUs")
if peak:
    print(f"- FMA peak ({peak_name}, {fma_runs[peak_name].get('label', '')}): {peak:.1f} GFLOP/s "
          "per core (over CPU time: a property of the machine, not of the load)")
    others = [f"{n.split(':')[-1]}-bit {r['gflops']:.1f}"
              for n, r in fma_runs.items() if n != peak_name]
    if others:
        print(f"  (narrower vectors: {', '.join(others)} GFLOP/s)")
else:
    print("- FMA peak: not measured (no fma_peak binary)")
_, onednn_context = load("onednn.json")
if onednn_context:
    print(f"- oneDNN {onednn_context.get('onednn_version', '?')}, threads: "
          f"{onednn_context.get('onednn_threads', '?')}; OMP_WAIT_POLICY "
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}")
print(f"- PyTorch BLAS: {blas or 'not run'}")
print()
print("| case | ours tok/s | oneDNN tok/s | PyTorch tok/s | ours GFLOP/s | ours % of peak "
      "| oneDNN GFLOP/s | oneDNN % of peak | ours/oneDNN | ours/PyTorch |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key in keys:
    kind, i, h, b, t, threads = key
    name = f"{kind} in:{i} h:{h} b:{b} t:{t}" + (f" threads:{threads}" if threads != 1 else "")
    o_tok, o_gf = ours.get(key, (None, None))
    d_tok, d_gf = onednn.get(key, (None, None))
    p_tok, _ = torch.get(key, (None, None))
    star = "*" if key in onednn_training_won else ""
    print(f"| {name} | {tok(o_tok)} | {tok(d_tok)}{star} | {tok(p_tok)} | {num(o_gf)} | "
          f"{pct(o_gf, threads)} | {num(d_gf)} | {pct(d_gf, threads)} | {ratio(o_tok, d_tok)} | "
          f"{ratio(o_tok, p_tok)} |")
if onednn_training_won:
    print("\n\\* oneDNN's training forward (gemm-based) beat its inference forward (brgemm) here; "
          "the faster one is shown.")
PYTHON
