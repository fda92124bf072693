#!/usr/bin/env bash
# One prepared GPU run: code-path checks, then counting/intervention throughput in bf16.
# Usage (on a GPU machine, repository root): OUT=bench/gpu bash bench/gpu.sh
set -euo pipefail
export PYTHONPATH="$PWD:$PWD/bench" PYTHONUNBUFFERED=1
OUT=${OUT:-bench/gpu}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 bench/gpu_check.py --out "$OUT"
for shape in "8 1024" "32 1024" "16 4096"; do
    set -- $shape
    python3 bench/run.py --config-json bench/gemma3-270m.config.json --device cuda --dtype bfloat16 \
        --batch "$1" --seq "$2" --reps 10 --out "$OUT/bf16_${1}x${2}"
done
