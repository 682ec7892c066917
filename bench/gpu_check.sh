#!/usr/bin/env bash
# The GPU check of issue 8, to run when a GPU (the project's lent H200) is available: the whole
# test suite on the GPU, then the GPU benchmark (exact float32 with lstmkit on cuDNN; TF32; and
# lstmkit's fused XLA scan without cuDNN), in about 8 minutes. Logs and results go to $OUT
# (default: ./gpu_check_out).
#
# The device machine has JAX (CUDA), PyTorch, optax, h5py, pytest-xdist and hypothesis, but not
# Keras 3 and a few of the test suite's packages. Before the run, here, from the repository root
# (`.whl/` is git-ignored):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0 tensorboardX==2.6.5 pydot==4.0.1
#
# then run, on the device: `bash bench/gpu_check.sh` with `.whl` carried (timeout ~540 s).
# Each stage has its own time limit, so that a slow stage cannot eat the next ones' time.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import jax, torch; print('jax', jax.__version__, jax.devices()); print('torch', torch.__version__, torch.backends.cudnn.version())"
  python3 -c "import keras, lstmkit; from lstmkit.kernels import cudnn; print('keras', keras.__version__, '| lstmkit cuDNN path available:', cudnn.gpu_available())"
} 2>&1 | tee "$OUT/env.txt"

stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s): $*"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
  tail -n 15 "$OUT/$name.log"
}

# 1. The whole suite on the GPU, exact by default: every test, the 1e-5 Keras/PyTorch/float64
#    comparisons included; tests/kernels/test_cudnn.py runs the real cuDNN primitive here.
#    Eight JAX processes share the GPU: none may take JAX's default 75 % of its memory.
XLA_PYTHON_CLIENT_PREALLOCATE=false stage tests 240 python3 -m pytest -n 8 -x -q -p no:cacheprovider
# 2. The benchmark, one round each (the device is quiet): exact float32 on the four GPU shapes;
#    TF32 and lstmkit's scan without cuDNN on the smallest and the largest-H shape.
TWO="32,80,128,128;64,100,256,1024"
stage bench_exact 100 python3 bench/run.py --gpu --rounds 1 --repeats 10
stage bench_tf32 60 python3 bench/run.py --gpu --tf32 --rounds 1 --repeats 10 --shapes "$TWO" \
  --systems lstmkit,torch
stage bench_scan 50 python3 bench/run.py --gpu --no-cudnn --rounds 1 --repeats 10 --shapes "$TWO" \
  --systems lstmkit
cp bench/results.md "$OUT/results.md"
cat "$OUT/summary.txt"
