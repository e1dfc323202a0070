#!/usr/bin/env bash
# Runs on a lent GPU machine (the device tool), in the repository root, with .gpu-carry carried
# (made here by `node scripts/gpu-carry.mjs`):
#   bash scripts/gpu-run.sh [setup|test|bench8|bench24|all]   (default: all but bench24)
# setup: unpacks Node and the modules, builds the CUDA backend for this GPU, prints runtimeInfo;
# test: the GPU suites (test/gpu: every kernel against the CPU scalar kernel, whole models
# against the CPU path); bench8 / bench24: lfm_bench on synthetic LFM2-8B-A1B / LFM2-24B-A2B
# Q4_0 files, single stream and 1-1024 concurrent sequences. Logs go to $OUT (or /tmp/lfm2-gpu).
# Each phase redoes setup when needed, since the machine keeps nothing for long between calls.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/lfm2-gpu}
mkdir -p "$OUT"
what=${1:-all}
JOBS=$(nproc)

setup() {
  if [ ! -x .gpu-bin/node ]; then
    [ -f .gpu-carry/bundle.tar.xz ] || { echo "gpu-run: .gpu-carry/bundle.tar.xz missing (carry .gpu-carry)"; exit 2; }
    tar -xJf .gpu-carry/bundle.tar.xz --skip-old-files -C .  # .gpu-bin/node, node_modules/, dist/, the addon
  fi
  export PATH="$PWD/.gpu-bin:$PATH"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv 2>&1 | tee "$OUT/gpu.txt"
  if [ ! -f build-cuda/liblfm2_cuda.so ]; then
    cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
    node scripts/build-cuda.mjs ${cc:+--arch "$cc"} -j "$JOBS" >"$OUT/build-cuda.log" 2>&1 || { tail -30 "$OUT/build-cuda.log"; exit 1; }
    tail -1 "$OUT/build-cuda.log"
  fi
  node --input-type=module -e 'import { runtimeInfo } from "./dist/index.js"; console.log(JSON.stringify(runtimeInfo().cuda))' | tee "$OUT/runtime.json"
}

tests() {
  node node_modules/vitest/vitest.mjs run test/gpu 2>&1 | tee "$OUT/gpu-tests.log" | grep -E "✓|×|FAIL|Test Files|Tests|Error" | tail -60
}

bench() {  # PRESET SEQS
  if [ ! -x build-bench/lfm_bench ]; then
    cmake -S . -B build-bench -DLFM_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >"$OUT/build-bench.log" 2>&1 &&
      cmake --build build-bench --target lfm_bench -j "$JOBS" >>"$OUT/build-bench.log" 2>&1 || { tail -20 "$OUT/build-bench.log"; exit 1; }
  fi
  local file=/tmp/lfm2-$1-Q4_0.gguf
  [ -f "$file" ] || node scripts/make-model.mjs "$1" Q4_0 "$file" >/dev/null || exit 1
  build-bench/lfm_bench "$file" --pp 512 --tg 128 --seqs "$2" 2>&1 | tee "$OUT/bench-$1.log"
}

case "$what" in
  setup) setup ;;
  test) setup && tests ;;
  bench8) setup && bench lfm2-8b-a1b 1,16,256,1024 ;;
  bench24) setup && bench lfm2-24b-a2b 1,16,256,1024 ;;
  all) setup && tests && bench lfm2-8b-a1b 1,16,256,1024 ;;
  *) echo "usage: bash scripts/gpu-run.sh [setup|test|bench8|bench24|all]"; exit 2 ;;
esac
