#!/usr/bin/env bash
# GPU check, for a CUDA 12 host (NVIDIA driver >= 525) that reaches the package registries:
# installs the GPU backend (deploy/native/install.sh --gpu), proves TensorFlow placed work on the
# GPU, trains one model (streamcast train on nyc_taxi, or a generated series of the same shape)
# on wasm and on tensorflow-gpu, and steps 100k series through the serving GRU on each backend,
# printing a table. Run it after `npm ci`:  bash bench/gpu-check.sh
# Env: INPUT (CSV to train on; default ../shared/datasets/nab/realKnownCause/nyc_taxi.csv, else
# generated), EPOCHS (default 3), RUNS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS="${EPOCHS:-3}"
RUNS="${RUNS:-2}"
OUT="${OUT:-$(mktemp -d)}"

echo "## GPU check ($(date -u +%FT%TZ))"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  || { echo "no nvidia-smi: this host has no NVIDIA driver; the GPU check cannot run" >&2; exit 1; }

t0=$SECONDS
bash deploy/native/install.sh --gpu
echo "install: $((SECONDS - t0)) s"

# TensorFlow says where it put the op (the binding has no device list): the GPU, or this fails.
TF_CPP_MIN_LOG_LEVEL=0 node -e '
  const tf = require("@tensorflow/tfjs-node-gpu");
  const y = tf.matMul(tf.ones([1024, 1024]), tf.ones([1024, 1024])).dataSync()[0];
  console.log(`matMul on ${tf.getBackend()}, TensorFlow ${tf.backend().binding.TF_Version}: ${y}`);
' 2>"$OUT/placement.log"
grep -E "Created device .*GPU:0" "$OUT/placement.log" || { echo "TensorFlow created no GPU device:" >&2; tail -20 "$OUT/placement.log" >&2; exit 1; }

INPUT="${INPUT:-../shared/datasets/nab/realKnownCause/nyc_taxi.csv}"
if [ ! -f "$INPUT" ]; then
  INPUT="$OUT/nyc_taxi_like.csv"
  # 10,320 half-hourly points with daily and weekly seasons, as nyc_taxi.
  node -e '
    const rows = ["timestamp,value"]; const t0 = Date.UTC(2014, 6, 1);
    for (let i = 0; i < 10320; i++) { const d = Math.sin(2 * Math.PI * i / 48), w = Math.sin(2 * Math.PI * i / 336);
      rows.push(`${new Date(t0 + i * 1800000).toISOString()},${(15000 + 7000 * d + 2000 * w + 800 * Math.sin(i * 12.9898) ).toFixed(0)}`); }
    require("fs").writeFileSync(process.argv[1], rows.join("\n") + "\n");' "$INPUT"
fi
echo "training data: $INPUT"

BENCH_GPU=1 BENCH_TRAIN_INPUT="$INPUT" BENCH_TRAIN_EPOCHS="$EPOCHS" BENCH_TRAIN_RUNS="$RUNS" BENCH_SERVE_B="1000,100000" \
  TF_CPP_MIN_LOG_LEVEL=2 npm run --silent bench -- train
