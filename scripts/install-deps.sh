#!/usr/bin/env bash
# Installs, with apt-get, whichever of lstmner's build dependencies are missing (Debian 12).
# Needs root, or sudo. Installs nothing when everything is present.
set -euo pipefail

packages=(cmake g++ make libeigen3-dev catch2 libcli11-dev nlohmann-json3-dev)
if [[ "${LSTMNER_WITH_BENCHMARKS:-0}" == 1 ]]; then
  # Google Benchmark, the oneDNN peer, and the PyTorch peer on OpenBLAS (the OpenMP build).
  packages+=(libbenchmark-dev libdnnl-dev libopenblas0-openmp python3-torch)
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
