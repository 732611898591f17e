#!/usr/bin/env bash
# The GPU checks and benchmarks in one run, for a machine with one CUDA GPU and no network.
# Writes every JSON under ${OUT:-benchmarks/out/gpu}. Packages missing there (lpips, torch-fidelity,
# rich-click, jsonschema...) can be placed as wheels in .whl/ and are installed to /tmp/site first.
# Each step has its own timeout; the whole script stays under 10 minutes of device time.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/out/gpu}
mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"

status=0
run() { echo "== $*"; timeout "$1" "${@:2}" || { echo "FAILED ($?): ${*:2}"; status=1; }; }
# Training steps: INIT vs MUNIT at the tiny and the paper preset (bf16 autocast, as the trainer uses on GPUs).
run 120 python3 benchmarks/train_step.py --device cuda --out "$out/train_step_gpu_tiny.json"
run 240 python3 benchmarks/train_step.py --device cuda --preset paper --out "$out/train_step_gpu_paper.json"
# The full evaluation protocol for one task: ours vs the MUNIT-style batch-1 loop, same numbers to 1e-5.
run 300 python3 benchmarks/evaluator_throughput.py --device cuda --threads 8 --out "$out/evaluator_throughput_cuda.json"
# The GPU paths of the trainer end to end: a short quickstart on the GPU.
run 240 python3 -m initbench quickstart --device cuda --steps 200 --out /tmp/qs-gpu --json "$out/quickstart_gpu.json"
exit $status
