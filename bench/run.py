"""One LSTM (or GRU) layer on lstmkit, PyTorch and Keras 3, each system in its own process.

    python bench/run.py [--quick] [--gpu] [--tf32] [--no-cudnn] [--rounds N] [--repeats N]
                        [--no-write] [--torch-spin] [--cell gru]

Workload (issue 8): (batch, time, features) -> LSTM(units, return_sequences=True), mean-squared
error over the whole sequence, SGD. "train" = forward + backward + update, "infer" = forward.
Every measurement runs in a fresh subprocess (in one process PyTorch's train step ran 100x slower
after JAX had run), systems interleaved in a rotating order, `--rounds` rounds; each worker
reports the median of its timed calls after two warm-up calls (at least `--repeats`, and more
until a second has passed: BENCH_MIN_SECONDS), and the table keeps the best median over rounds.
Besides the wall time, each worker reports its process CPU time: on a shared machine the wall
time measures the neighbours too. Workers run with
OMP_WAIT_POLICY=PASSIVE (PyTorch's OpenMP threads otherwise spin against the neighbours;
`--torch-spin` leaves the default).

Also measured: the GEMM bound of the (64, 100, 256, 1024) train step (numpy's matmul rate x the
step's FLOPs), `predict_on_batch` latency of LSTM(1) on (1, 3, 1), and the first `fit` step
(compilation included) of Embedding -> LSTM(128) -> Dense.

Writes its section of bench/results.md (between `<!-- bench:lstm -->` markers) and leaves the
other sections alone. `--gpu` runs JAX and PyTorch on the GPU, exact float32 (JAX
precision "highest", PyTorch TF32 off) unless `--tf32`; there lstmkit's LSTM runs on cuDNN
(kernels/cudnn.py) unless `--no-cudnn` (the fused XLA scan). The GPU variants write their own
sections (`bench:lstm-gpu`, `bench:lstm-gpu-tf32`, `-scan` with `--no-cudnn`). `--cell gru` times
a GRU layer (reset_after=True in all three: PyTorch's form) instead, without the extras, into
`bench:gru` (and `gru-gpu...`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CPU_SHAPES = [(32, 80, 128, 128), (64, 100, 128, 256), (64, 100, 256, 1024)]
GPU_SHAPES = [(32, 80, 128, 128), (64, 100, 256, 1024), (64, 25, 1024, 1024), (512, 100, 256, 512)]
SYSTEMS = ["lstmkit", "torch", "keras"]
BIG = (64, 100, 256, 1024)  # the shape of the GEMM-bound target
RESULTS = Path(__file__).with_name("results.md")
BEGIN, END = "<!-- bench:lstm begin -->", "<!-- bench:lstm end -->"
MIN_SECONDS = float(os.environ.get("BENCH_MIN_SECONDS", "1.0"))  # timed calls per median, s


# ----- workers: one system, one task, in a fresh process ----------------------------------------
def _timed(fn, repeats: int, sync=lambda: None) -> dict:
    """Median wall and CPU time of `fn` after warm-up: at least `repeats` calls, and more until
    MIN_SECONDS have passed (at most 50 x repeats). A median of ten 10 ms calls spans 0.1 s, and
    on this shared machine one slow spell of the neighbours decided it; a second of calls gives
    every system the same chance of quiet ones."""
    for _ in range(2):
        fn()
        sync()
    wall, cpu = [], []
    start = time.perf_counter()
    while len(wall) < repeats or (
        time.perf_counter() - start < MIN_SECONDS and len(wall) < 50 * repeats
    ):
        t, c = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {
        "ms": 1e3 * statistics.median(wall),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "calls": len(wall),
    }


def _setup_env(gpu: bool) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if not gpu:
        os.environ["JAX_PLATFORMS"] = "cpu"
        os.environ["CUDA_VISIBLE_DEVICES"] = ""


def _jax_precision(tf32: bool) -> None:
    import jax

    # Exact float32 by default (on a GPU XLA would otherwise use TF32 for float32 products).
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")


def _data(shape):
    import numpy as np

    b, t, d, h = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(b, t, d)).astype("float32")
    y = rng.normal(size=(b, t, h)).astype("float32")
    return x, y


def _layer() -> str:
    return os.environ.get("BENCH_CELL", "lstm")


def work_lstmkit(shape, repeats, gpu, tf32):
    import jax

    _jax_precision(tf32)
    import lstmkit
    from lstmkit.kernels import cudnn

    # lstmkit applies its own float32 matmul precision (exact unless switched), over JAX's flag.
    lstmkit.backend.set_float32_matmul_precision("tf32" if tf32 else "highest")
    cudnn.set_mode("off" if os.environ.get("BENCH_NO_CUDNN") else "auto")
    x, y = _data(shape)
    model = lstmkit.Sequential(
        [
            lstmkit.Input(shape=x.shape[1:]),
            getattr(lstmkit.layers, _layer().upper())(shape[3], return_sequences=True),
        ]
    )
    model.compile(lstmkit.optimizers.SGD(learning_rate=1e-3), "mse")
    xd, yd = jax.device_put(x), jax.device_put(y)  # as PyTorch's tensors, already in place
    train = _timed(lambda: model.train_on_batch(xd, yd), repeats)
    # predict() with the whole batch as one: lstmkit's predict_on_batch splits 64 rows into two
    # batches of 32 (its default batch size), which doubles the time of the larger shapes.
    infer = _timed(lambda: model.predict(xd, batch_size=len(x), verbose=0), repeats)
    if cudnn.gpu_available() and cudnn.get_mode() == "auto":
        path = "cuDNN"
    else:
        path = "native CPU kernel" if lstmkit.backend.native_available() else "XLA scan"
    version = f"lstmkit (jax {jax.__version__}, {path})"
    return {"train": train, "infer": infer, "version": version}


def work_keras(shape, repeats, gpu, tf32):
    _jax_precision(tf32)
    import keras

    x, y = _data(shape)
    model = keras.Sequential(
        [
            keras.Input(shape=x.shape[1:]),
            getattr(keras.layers, _layer().upper())(shape[3], return_sequences=True),
        ]
    )
    model.compile(keras.optimizers.SGD(learning_rate=1e-3), "mse")
    train = _timed(lambda: model.train_on_batch(x, y), repeats)
    infer = _timed(lambda: model.predict_on_batch(x), repeats)
    return {"train": train, "infer": infer, "version": f"keras {keras.__version__}"}


def work_torch(shape, repeats, gpu, tf32):
    import torch

    torch.set_num_threads(2)
    device = "cuda" if gpu else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    x, y = (torch.from_numpy(a).to(device) for a in _data(shape))
    lstm = getattr(torch.nn, _layer().upper())(shape[2], shape[3], batch_first=True).to(device)
    opt = torch.optim.SGD(lstm.parameters(), lr=1e-3)

    def train():
        opt.zero_grad()
        loss = torch.mean((lstm(x)[0] - y) ** 2)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            lstm(x)

    return {
        "train": _timed(train, repeats, sync),
        "infer": _timed(infer, repeats, sync),
        "version": f"torch {torch.__version__}",
    }


def work_gemm(shape, repeats, gpu, tf32):
    """numpy's float32 matmul rate on 2048^2 and the LSTM train step's FLOPs at `shape`."""
    import numpy as np

    a = np.random.default_rng(0).normal(size=(2048, 2048)).astype("float32")
    r = _timed(lambda: a @ a, repeats)
    gflops = 2 * 2048**3 / (r["ms"] * 1e-3) / 1e9
    b, t, d, h = shape
    step = 3 * 2 * b * t * 4 * h * (d + h)  # forward products, x3 for the backward's two
    return {"gflops": gflops, "bound_ms": step / (gflops * 1e9) * 1e3, "step_gflop": step / 1e9}


def work_latency(shape, repeats, gpu, tf32):
    """predict_on_batch of LSTM(1) on (1, 3, 1) for lstmkit; the same call in Keras / PyTorch."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=(1, 3, 1)).astype("float32")
    system = os.environ["BENCH_SYSTEM"]
    if system == "torch":
        import torch

        torch.set_num_threads(2)
        lstm = torch.nn.LSTM(1, 1, batch_first=True)
        xt = torch.from_numpy(x)

        def call():
            with torch.no_grad():
                return lstm(xt)[0].numpy()

        r = _timed(call, repeats * 20)
        return {"us": 1e3 * r["ms"], "cpu_us": 1e3 * r["cpu_ms"]}
    lib = __import__("lstmkit" if system == "lstmkit" else "keras")
    model = lib.Sequential([lib.Input(shape=(3, 1)), lib.layers.LSTM(1)])
    r = _timed(lambda: model.predict_on_batch(x), repeats * 20)
    return {"us": 1e3 * r["ms"], "cpu_us": 1e3 * r["cpu_ms"]}


def work_first_fit(shape, repeats, gpu, tf32):
    """Wall time of the first train step (compilation included) of Embedding(65, 64) ->
    LSTM(128) -> Dense(65), batch 32 x time 100, in a process that has imported the library."""
    import numpy as np

    system = os.environ["BENCH_SYSTEM"]
    lib = __import__("lstmkit" if system == "lstmkit" else "keras")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 65, size=(32, 100))
    y = rng.integers(0, 65, size=(32, 100))
    t, c = time.perf_counter(), time.process_time()
    model = lib.Sequential([
        lib.Input(shape=(100,), dtype="int32"),
        lib.layers.Embedding(65, 64),
        lib.layers.LSTM(128, return_sequences=True),
        lib.layers.Dense(65),
    ])  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    first, first_cpu = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    return {"first_s": first, "first_cpu_s": first_cpu, "next_s": time.perf_counter() - t}


WORKERS = {"lstm": {"lstmkit": work_lstmkit, "torch": work_torch, "keras": work_keras},
           "gemm": work_gemm, "latency": work_latency, "first_fit": work_first_fit}  # fmt: skip


def worker_main(args) -> None:
    _setup_env(args.gpu)
    os.environ["BENCH_SYSTEM"] = args.system
    os.environ["BENCH_CELL"] = args.cell
    if args.no_cudnn:
        os.environ["BENCH_NO_CUDNN"] = "1"
    if not args.torch_spin:
        # OpenMP's default active wait spins on a shared machine: PyTorch's train step was
        # measured 50x slower (5.1 s vs 92 ms, load 17 on 2 cores). Passive wait for everyone.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else BIG
    fn = WORKERS[args.worker]
    fn = fn[args.system] if isinstance(fn, dict) else fn
    print("RESULT " + json.dumps(fn(shape, args.repeats, args.gpu, args.tf32)), flush=True)


# ----- the driver: subprocesses, interleaved, and the report ------------------------------------
def spawn(task: str, system: str, shape, args) -> dict | None:
    repeats = args.repeats if not shape or shape[3] < 1024 else min(args.repeats, 3)
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        task,
        "--system",
        system,
        "--repeats",
        str(repeats),
    ]
    cmd += ["--shape", ",".join(map(str, shape))] if shape else []
    cmd += ["--gpu"] * args.gpu + ["--tf32"] * args.tf32 + ["--torch-spin"] * args.torch_spin
    cmd += ["--no-cudnn"] * args.no_cudnn + ["--cell", args.cell]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"  ({task} {system} {shape} failed: {proc.stderr.strip().splitlines()[-1:]})")
    return None


def load() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load unknown"


def machine() -> str:
    """The CPU's name, with its family and model where /proc/cpuinfo gives them (this project's
    machines were four CPU kinds under one name: "AMD EPYC" was Zen 3, Zen 4 and Zen 5), and its
    widest vector instructions."""
    cpu = platform.processor() or platform.machine()
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
            if not line.strip():
                break  # the first processor's lines are enough
    except OSError:
        pass
    if "model name" in fields:
        cpu = fields["model name"]
        if "cpu family" in fields:
            cpu += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    flags = fields.get("flags", "").split()
    vectors = next((v for v in ("avx512f", "avx2", "avx") if v in flags), None)
    if vectors:
        cpu += f", {vectors.upper()}"
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def best(runs: list, key: str) -> dict | None:
    runs = [r[key] for r in runs if r]
    return min(runs, key=lambda r: r["ms"]) if runs else None


def driver(args) -> None:
    shapes = (GPU_SHAPES if args.gpu else CPU_SHAPES)[: 1 if args.quick else None]
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    loads = [load()]
    print(f"{machine()}; {loads[0]}", flush=True)
    runs: dict = {}
    versions: dict = {}
    for r in range(args.rounds):
        order = SYSTEMS[r % 3 :] + SYSTEMS[: r % 3]  # rotate who runs first
        order = [s for s in order if s in args.systems.split(",")]
        for shape in shapes:
            for system in order:
                out = spawn("lstm", system, shape, args)
                runs.setdefault((shape, system), []).append(out)
                if out:
                    versions[system] = out["version"]
                    print(f"  round {r + 1} {shape} {system}: train {out['train']['ms']:.1f} ms, "
                          f"infer {out['infer']['ms']:.1f} ms", flush=True)  # fmt: skip
        loads.append(load())
    extras = {}
    if not args.quick and not args.gpu and not args.shapes and args.cell == "lstm":
        extras["gemm"] = spawn("gemm", "numpy", BIG, args)
        # `--rounds` processes each, systems interleaved, the best median kept (as for the
        # shapes): on the project's VM the machine's speed moves in spells of seconds, and one
        # process's median of 60-80 us calls lands in a quick spell or a slow one.
        for task in ("latency", "first_fit"):
            systems = SYSTEMS if task == "latency" else ["lstmkit", "keras"]
            for _ in range(max(args.rounds, 2)):
                for system in systems:
                    extras.setdefault((task, system), []).append(spawn(task, system, None, args))
    loads.append(load())
    text = report(shapes, runs, versions, extras, args, loads)
    print(text)
    if not args.no_write:
        write_section(text, args)


def _cell(r: dict | None, cpu: bool = True) -> str:
    if not r:
        return "–"
    return f"{r['ms']:.1f} ({r['cpu_ms']:.0f})" if cpu else f"{r['ms']:.1f}"


def _ratio(a: dict | None, b: dict | None, key: str = "ms") -> str:
    return f"{a[key] / b[key]:.2f}" if a and b else "–"


def report(shapes, runs, versions, extras, args, loads) -> str:
    mode = "GPU, " + ("TF32" if args.tf32 else "exact float32") if args.gpu else "CPU"
    mode += ", lstmkit without cuDNN" if args.no_cudnn else ""
    flags = " --gpu" * args.gpu + " --tf32" * args.tf32 + " --no-cudnn" * args.no_cudnn
    flags += f" --cell {args.cell}" if args.cell != "lstm" else ""
    begin, _ = markers(args)
    lines = [
        begin,
        f"## One {args.cell.upper()} layer ({mode}): `python bench/run.py{flags}`",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; "
        + ", ".join(versions.get(s, s) for s in SYSTEMS)
        + ".",  # fmt: skip
        f"Machine load during the run: {' → '.join(loads)}. Each cell: best of {args.rounds} "
        f"rounds of the median of at least {args.repeats} calls and {MIN_SECONDS:g} s of calls, "
        "each system in its own process; ms wall "
        "(process CPU ms in brackets). Ratios lstmkit / peer on wall time (below 1: lstmkit is "
        "faster), and on CPU time in brackets.",
        "",
        "| (B, T, D, H) | step | lstmkit | PyTorch | Keras 3 | ÷ PyTorch | ÷ Keras |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape in shapes:
        for step in ("train", "infer"):
            k, t, ke = (best(runs.get((shape, s), []), step) for s in SYSTEMS)
            lines.append(
                f"| {shape} | {step} | {_cell(k)} | {_cell(t)} | {_cell(ke)} | {_ratio(k, t)} "
                f"({_ratio(k, t, 'cpu_ms')}) | {_ratio(k, ke)} ({_ratio(k, ke, 'cpu_ms')}) |"
            )
    gemm = extras.get("gemm")
    if gemm:
        k = best(runs.get((BIG, "lstmkit"), []), "train")
        lines += ["", f"GEMM bound of the {BIG} train step: {gemm['step_gflop']:.0f} GFLOP at "
                  f"numpy's {gemm['gflops']:.0f} GFLOP/s (2048² float32) = {gemm['bound_ms']:.0f} "
                  f"ms; lstmkit / bound = {_ratio(k, {'ms': gemm['bound_ms']})} "
                  "(target ≤ 1.2)."]  # fmt: skip
    lat = {s: [r for r in extras.get(("latency", s), []) if r] for s in SYSTEMS}
    if any(lat.values()):
        cells = ", ".join(
            f"{s} {min(r['us'] for r in v):.0f} µs (CPU {min(r.get('cpu_us', 0) for r in v):.0f})"
            for s, v in lat.items() if v
        )  # fmt: skip
        lines += ["", f"`predict_on_batch`, LSTM(1) on (1, 3, 1), median: {cells} "
                  "(target ≤ 60 µs for lstmkit)."]  # fmt: skip
    fits = {s: [r for r in extras.get(("first_fit", s), []) if r] for s in ("lstmkit", "keras")}
    if any(fits.values()):
        cells = ", ".join(
            f"{s} {min(r['first_s'] for r in v):.2f} s "
            f"(CPU {min(r.get('first_cpu_s', 0) for r in v):.2f} s; "
            f"second epoch {min(r['next_s'] for r in v):.2f} s)"
            for s, v in fits.items() if v
        )  # fmt: skip
        lines += ["", "First `fit` step, compilation included, Embedding(65, 64) → LSTM(128) → "
                  f"Dense(65), batch 32 × time 100: {cells} (target ≤ 2 s)."]  # fmt: skip
    lines.append(markers(args)[1])
    return "\n".join(lines)


def markers(args) -> tuple[str, str]:
    """The section's markers: the CPU run's, or one section per GPU variant (per cell)."""
    if not args.gpu and args.cell == "lstm":
        return BEGIN, END
    name = args.cell + ("-gpu" + "-tf32" * args.tf32 + "-scan" * args.no_cudnn) * args.gpu
    return f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"


def write_section(text: str, args) -> None:
    begin, end = markers(args)
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in old and end in old:
        new = old[: old.index(begin)] + text + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(new)
    print(f"wrote {RESULTS}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smallest shape only, no extras")
    p.add_argument("--gpu", action="store_true", help="JAX and PyTorch on the GPU")
    p.add_argument("--tf32", action="store_true", help="allow TF32 products (default: exact)")
    p.add_argument("--no-cudnn", action="store_true", help="lstmkit's LSTM without cuDNN")
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm", help="the layer timed")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--torch-spin", action="store_true", help="leave OpenMP's active wait on")
    p.add_argument("--shapes", help="B,T,D,H;B,T,D,H... instead of the default shapes")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="a subset of " + ",".join(SYSTEMS))
    p.add_argument("--no-write", action="store_true", help="print only, leave results.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--system", default="lstmkit", help=argparse.SUPPRESS)
    p.add_argument("--shape", help=argparse.SUPPRESS)
    args = p.parse_args()
    worker_main(args) if args.worker else driver(args)


if __name__ == "__main__":
    main()
