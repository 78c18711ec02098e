#!/usr/bin/env bash
# Issue 16's GPU checks, prepared to run in one call of the device tool on a lent GPU machine (about 8
# minutes there):
#   bash tools/gpu_checks.sh fetch    # here, first: wheels of what the GPU image lacks, into .whl/ (git-ignored)
#   bash tools/gpu_checks.sh          # there: device run with carry [".whl"] and timeout_s 600
# Writes under $OUT (./gpu_checks where OUT is unset): gpu.txt (the card, torch and transformers there),
# tests.log (tests/gpu: no wait for the device in a pretraining micro-batch of four speech families in
# fp32 and bf16 and of XLM-R's masked LM, the trainer in bf16 compiled and checkpointed, the waveform
# frontend's device path), bench_pretrain_gpu.json with bench.log (the BASE step against transformers' in
# fp32 and bf16, with model FLOP utilisation against the H100's dense bf16 peak, 989 TFLOP/s), then the
# same in bf16 with speechxl compiled (bench_pretrain_gpu_compiled.json, bench_compiled.log). One GPU:
# FSDP falls back to one whole model (train/strategy.py), so it is not measured here.
set -euo pipefail
cd "$(dirname "$0")/.."
# what speechxl and its tests import beyond the GPU image's packages (the device tool's KINDS.md)
missing=(soundfile cffi pycparser soxr rapidfuzz)

if [ "${1:-}" = fetch ]; then  # the versions this checkout's .venv runs, for the image's Python 3.12
  grep -qsx '/.whl/' .git/info/exclude || echo /.whl/ >> .git/info/exclude
  rm -rf .whl
  specs=$(.venv/bin/python -c 'import importlib.metadata as m, sys
print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' "${missing[@]}")
  # shellcheck disable=SC2086  # one word per wheel
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl $specs
  ls .whl
  exit 0
fi

out=${OUT:-gpu_checks}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
{ nvidia-smi; python3 -c 'import torch, transformers
print("torch", torch.__version__, "transformers", transformers.__version__, torch.cuda.get_device_name())'
} > "$out/gpu.txt" 2>&1 || true
# the issue's figures first, then the tests, then what compiling may not fit into the call's time
python3 tools/bench_pretrain.py --device cuda --presets base --precisions fp32 bf16 --allocators default \
  --batch 8 --seconds 15 --steps 10 --rounds 2 --peak_tflops 989 --out "$out/bench_pretrain_gpu.json" 2>&1 \
  | tee "$out/bench.log" || true
python3 -m pytest -q -p no:cacheprovider tests/gpu 2>&1 | tee "$out/tests.log" || true
python3 tools/bench_pretrain.py --device cuda --presets base --precisions bf16 --allocators default \
  --batch 8 --seconds 15 --steps 10 --rounds 1 --peak_tflops 989 --compile \
  --out "$out/bench_pretrain_gpu_compiled.json" 2>&1 | tee "$out/bench_compiled.log"
