"""Training peak memory of one LSTM layer: lstmkit against PyTorch (and Keras 3), CPU.

    python bench/bench_memory.py [--shape B,T,D,H] [--steps N] [--rounds N] [--systems ...]
                                 [--no-write]

Workload (issue 8's largest CPU shape by default, (64, 100, 256, 1024)): (batch, time,
features) -> LSTM(units, return_sequences=True), mean-squared error over the whole sequence,
SGD, `--steps` train steps. Each system runs in its own fresh process (as bench/run.py). The
figure is the process's peak resident memory above its baseline, the baseline being taken
after the imports and the data (numpy inputs and targets) exist: the peak counter of
/proc/self/status (VmHWM) is reset there (`echo 5 > /proc/self/clear_refs`) and read after
the last step; where it cannot be reset, the peak is `ru_maxrss` minus the resident size at
the baseline. The model, its parameters, the optimizer state, the compiled programs and
everything a train step keeps alive count. For JAX the device's own `memory_stats()` is
reported too when the CPU client gives any.

Writes its section of bench/results.md (between `<!-- bench:memory -->` markers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")
BEGIN, END = "<!-- bench:memory begin -->", "<!-- bench:memory end -->"
SYSTEMS = ["lstmkit", "torch", "keras"]
MB = 1 << 20


# ----- measuring inside a worker ----------------------------------------------------------------
def _status(field: str) -> int | None:
    """A /proc/self/status field in bytes (VmRSS, VmHWM), None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    hwm, rss = _status("VmHWM"), _status("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + (1 << 20)


class Peak:
    """Peak resident memory above the resident size at construction."""

    def __init__(self):
        self.base = _status("VmRSS") or 0
        self.reset = _reset_peak()
        self.cpu0 = time.process_time()

    def result(self) -> dict:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        hwm = _status("VmHWM") if self.reset else None
        peak = hwm if hwm is not None else maxrss
        return {
            "peak_mb": (peak - self.base) / MB,
            "base_mb": self.base / MB,
            "method": "VmHWM reset at the baseline" if hwm is not None else "ru_maxrss - VmRSS",
            "cpu_s": time.process_time() - self.cpu0,
        }


def _data(shape):
    import numpy as np

    b, t, d, h = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(b, t, d)).astype("float32")
    return x, rng.normal(size=(b, t, h)).astype("float32")


def work_lstmkit(shape, steps):
    import jax

    import lstmkit

    x, y = _data(shape)
    jax.devices()  # the runtime's own start-up is not the model's memory
    peak = Peak()
    model = lstmkit.Sequential(
        [lstmkit.Input(shape=x.shape[1:]), lstmkit.layers.LSTM(shape[3], return_sequences=True)]
    )
    model.compile(lstmkit.optimizers.SGD(learning_rate=1e-3), "mse")
    for _ in range(steps):
        model.train_on_batch(x, y)
    out = peak.result()
    stats = jax.devices()[0].memory_stats()
    out["device_stats"] = (
        {k: v for k, v in stats.items() if "bytes" in k} if stats else "None (CPU client)"
    )
    out["version"] = f"lstmkit (jax {jax.__version__})"
    return out


def work_keras(shape, steps):
    import jax
    import keras

    x, y = _data(shape)
    jax.devices()
    peak = Peak()
    model = keras.Sequential(
        [keras.Input(shape=x.shape[1:]), keras.layers.LSTM(shape[3], return_sequences=True)]
    )
    model.compile(keras.optimizers.SGD(learning_rate=1e-3), "mse")
    for _ in range(steps):
        model.train_on_batch(x, y)
    return {**peak.result(), "version": f"keras {keras.__version__}"}


def work_torch(shape, steps):
    import torch

    torch.set_num_threads(2)
    xn, yn = _data(shape)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    peak = Peak()
    lstm = torch.nn.LSTM(shape[2], shape[3], batch_first=True)
    opt = torch.optim.SGD(lstm.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((lstm(x)[0] - y) ** 2)
        loss.backward()
        opt.step()
    return {**peak.result(), "version": f"torch {torch.__version__}"}


WORKERS = {"lstmkit": work_lstmkit, "torch": work_torch, "keras": work_keras}


# ----- the driver -------------------------------------------------------------------------------
def spawn(system: str, args) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", system, "--shape", args.shape]
    cmd += ["--steps", str(args.steps)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.setdefault("KERAS_BACKEND", "jax")
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/run.py
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"  ({system} failed: {proc.stderr.strip().splitlines()[-1:]})")
    return None


def driver(args) -> None:
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]
    runs: dict = {s: [] for s in systems}
    for r in range(args.rounds):
        for system in systems[r % len(systems) :] + systems[: r % len(systems)]:
            out = spawn(system, args)
            runs[system].append(out)
            if out:
                print(
                    f"  round {r + 1} {system}: peak +{out['peak_mb']:.0f} MB (baseline "
                    f"{out['base_mb']:.0f} MB, CPU {out['cpu_s']:.1f} s)",
                    flush=True,
                )
    text = report(runs, args)
    print(text)
    if not args.no_write:
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        if BEGIN in old and END in old:
            new = old[: old.index(BEGIN)] + text + old[old.index(END) + len(END) :]
        else:
            new = old.rstrip("\n") + "\n\n" + text + "\n"
        RESULTS.write_text(new)
        print(f"wrote {RESULTS}")


def report(runs: dict, args) -> str:
    shape = tuple(int(v) for v in args.shape.split(","))
    b, t, d, h = shape
    best = {s: min((r for r in v if r), key=lambda r: r["peak_mb"], default=None)
            for s, v in runs.items()}  # fmt: skip
    versions = ", ".join(r["version"] for r in best.values() if r)
    # What one step cannot avoid keeping for its backward pass, in float32: the four gates and
    # the cell state at every step (what PyTorch's and lstmkit's backward read).
    floor = 4 * b * t * 5 * h / MB
    lines = [
        BEGIN,
        "## Training peak memory (CPU): `python bench/bench_memory.py`",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {versions}. "
        f"One LSTM layer, (B, T, D, H) = {shape}, return_sequences, mse, SGD, {args.steps} "
        f"train steps; each system in its own process, best of {args.rounds} round(s). Peak "
        "resident memory above the process's baseline taken after the imports and the data "
        "(the model, its weights, the optimizer, the compiled programs and the step's "
        "temporaries count).",
        "",
        "| system | peak above baseline (MB) | baseline RSS (MB) | ÷ PyTorch | measured by |",
        "|---|---|---|---|---|",
    ]
    torch_peak = best.get("torch") and best["torch"]["peak_mb"]
    for system, r in best.items():
        if not r:
            lines.append(f"| {system} | – | – | – | failed |")
            continue
        ratio = f"{r['peak_mb'] / torch_peak:.2f}" if torch_peak else "–"
        lines.append(f"| {system} | {r['peak_mb']:.0f} | {r['base_mb']:.0f} | {ratio} | "
                     f"{r['method']} |")  # fmt: skip
    jax_stats = best.get("lstmkit") and best["lstmkit"].get("device_stats")
    lines += [
        "",
        f"For scale: the four gates and the cell state of every step, in float32, are "
        f"{floor:.0f} MB at this shape. JAX's `jax.devices()[0].memory_stats()` on the CPU: "
        f"{jax_stats}.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shape", default="64,100,256,1024")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        shape = tuple(int(v) for v in args.shape.split(","))
        print("RESULT " + json.dumps(WORKERS[args.worker](shape, args.steps)), flush=True)
    else:
        driver(args)


if __name__ == "__main__":
    main()
