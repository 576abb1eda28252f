#!/usr/bin/env bash
# Installs, with apt-get, whichever of lstmner's build dependencies are missing (Debian 12).
# Needs root, or sudo. Installs nothing when everything is present.
set -euo pipefail

# Build and test: the compiler and CMake, Eigen, Catch2, CLI11 and nlohmann-json for the tools,
# Google Benchmark and oneDNN so that the benchmarks (and the oneDNN peer) are built and
# smoke-tested with every test run, python3 to check the generated sample corpus and the HTML
# reports, clang-format (Debian 12's, version 14) for CI's format check, chromium to render the
# reports in a real browser (tests/tools/report_tests.sh), GNU parallel for the multi-machine form
# of lstmner-tune (tests/tools/parallel_test.sh) and for lstmner-tag cut at sentence boundaries
# (tests/tools/stream_tests.sh, docs/scale.md), time (/usr/bin/time) for the benchmark scripts'
# peak RSS (without chromium or parallel, their tests say SKIPPED), and clang with its runtime
# libraries (libFuzzer and the sanitizers) for the fuzz targets (scripts/fuzz.sh).
packages=(cmake g++ make libeigen3-dev catch2 libcli11-dev nlohmann-json3-dev
          libbenchmark-dev libdnnl-dev python3 clang-format chromium parallel time clang
          libclang-rt-14-dev)
if [[ "${LSTMNER_WITH_PEERS:-0}" == 1 ]]; then
  # The PyTorch peer of benchmarks/compare.sh, on OpenBLAS's OpenMP build (Debian's default
  # reference BLAS makes PyTorch ~20x slower and is no fair peer).
  packages+=(libopenblas0-openmp python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "lstmner: installing missing packages: ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) != 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
