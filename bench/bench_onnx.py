"""The exported character model in ONNX Runtime beside lstmkit and PyTorch, on the CPU.

Model: Embedding(65, 256) -> LSTM(512) -> LSTM(512) -> Dense(65) (the `lstmkit train` shape at the
benchmark sizes). Two workloads:
- "sequence": logits for a (16, 100) batch of ids, states from zeros;
- "step": one streaming step at batch 1, the states carried by the caller (lstmkit:
  `model.stream().step`, ONNX Runtime: the streaming export's state inputs/outputs, PyTorch:
  `nn.LSTM` with (h, c) carried).
Each system runs in its own process (a first process writes the two ONNX files with
`lstmkit.export.to_onnx`, so the ONNX Runtime process imports neither JAX nor lstmkit). Timing:
blocks of calls; the figures are the fastest block's wall time (the machine is shared) and the
median block's process CPU time. 1 thread per process by default (`--threads N`).
Run: python bench/bench_onnx.py [--blocks B] [--threads N] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from children import run_child, thread_env

VOCAB, EMBED, UNITS = 65, 256, 512
BATCH, TIME = 16, 100
RESULTS = Path(__file__).with_name("results.md")
BEGIN, END = "<!-- bench:onnx begin -->", "<!-- bench:onnx end -->"
CALLS = {"sequence": 3, "step": 200}  # calls per block


def blocks(fn, calls: int, n_blocks: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per call of each block of `calls` calls, after a warm-up."""
    for _ in range(3):
        fn()
    out = []
    for _ in range(n_blocks):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        out.append(((time.perf_counter() - t) / calls, (time.process_time() - c) / calls))
    return out


def _ids(batch: int, steps: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, VOCAB, size=(batch, steps)).astype("int32")


def _lstmkit_model(stateful_batch: int | None = None):
    import lstmkit
    from lstmkit import layers as L

    shape = {"batch_shape": (stateful_batch, None)} if stateful_batch else {"shape": (None,)}
    stateful = stateful_batch is not None
    return lstmkit.Sequential([
        lstmkit.Input(dtype="int32", name="chars", **shape), L.Embedding(VOCAB, EMBED),
        L.LSTM(UNITS, return_sequences=True, stateful=stateful),
        L.LSTM(UNITS, return_sequences=True, stateful=stateful), L.Dense(VOCAB),
    ])  # fmt: skip


def run_export(folder: str, n_blocks: int) -> dict:
    from lstmkit.export import to_onnx

    model = _lstmkit_model()
    t = time.perf_counter()
    to_onnx(model, os.path.join(folder, "sequence.onnx"))
    seconds = time.perf_counter() - t
    to_onnx(model, os.path.join(folder, "step.onnx"), streaming=True)
    return {"export_s": seconds}


def run_onnxruntime(folder: str, n_blocks: int) -> dict:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = int(os.environ["BENCH_THREADS"])
    load = lambda name: ort.InferenceSession(  # noqa: E731
        os.path.join(folder, name), opts, providers=["CPUExecutionProvider"]
    )
    seq, step = load("sequence.onnx"), load("step.onnx")
    x = _ids(BATCH, TIME)
    names = [i.name for i in step.get_inputs()]
    state = [np.zeros((1, UNITS), np.float32) for _ in names[1:]]
    one = _ids(1, 1)

    def stream():
        out = step.run(None, dict(zip(names, [one, *state])))
        state[:] = out[1:]

    return {
        "sequence": blocks(lambda: seq.run(None, {names[0]: x}), CALLS["sequence"], n_blocks),
        "step": blocks(stream, CALLS["step"], n_blocks),
        "version": f"onnxruntime {ort.__version__}",
    }


def run_lstmkit(folder: str, n_blocks: int) -> dict:
    import jax

    model = _lstmkit_model()
    x = jax.numpy.asarray(_ids(BATCH, TIME))
    seq = lambda: model.predict(x, batch_size=BATCH, verbose=0)  # noqa: E731
    streamer = model.stream(batch_size=1)
    one = jax.numpy.asarray(_ids(1, 1)[:, 0])
    return {
        "sequence": blocks(seq, CALLS["sequence"], n_blocks),
        "step": blocks(lambda: streamer.step(one).block_until_ready(), CALLS["step"], n_blocks),
        "version": f"lstmkit (jax {jax.__version__})",
    }


def run_torch(folder: str, n_blocks: int) -> dict:
    import torch

    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    emb, lstm = torch.nn.Embedding(VOCAB, EMBED), torch.nn.LSTM(EMBED, UNITS, 2, batch_first=True)
    head = torch.nn.Linear(UNITS, VOCAB)
    x, one = torch.from_numpy(_ids(BATCH, TIME)).long(), torch.tensor([[7]])
    state = [(torch.zeros(2, 1, UNITS), torch.zeros(2, 1, UNITS))]

    def seq():
        with torch.inference_mode():
            return head(lstm(emb(x))[0])

    def step():
        with torch.inference_mode():
            y, state[0] = lstm(emb(one), state[0])
            return head(y[:, 0])

    return {
        "sequence": blocks(seq, CALLS["sequence"], n_blocks),
        "step": blocks(step, CALLS["step"], n_blocks),
        "version": f"torch {torch.__version__}",
    }


SYSTEMS = {"export": run_export, "onnxruntime": run_onnxruntime, "lstmkit": run_lstmkit,
           "torch": run_torch}  # fmt: skip
LABELS = {"onnxruntime": "ONNX Runtime (exported by lstmkit)", "lstmkit": "lstmkit",
          "torch": "PyTorch"}  # fmt: skip


def summary(times: list) -> tuple[float, float]:
    """(fastest block's wall ms, median block's CPU ms) per call."""
    return min(w for w, _ in times) * 1e3, statistics.median(c for _, c in times) * 1e3


def report(results: dict, args: argparse.Namespace, export_s: float) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    versions = ", ".join(r["version"] for r in results.values())
    rows = ["| system | sequence (16 × 100) wall ms | CPU ms | streaming step wall ms | CPU ms |",
            "|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        (sw, sc), (tw, tc) = summary(r["sequence"]), summary(r["step"])
        rows.append(f"| {LABELS[name]} | {sw:.1f} | {sc:.1f} | {tw:.3f} | {tc:.3f} |")
    return "\n".join([
        BEGIN,
        "## ONNX export: `python bench/bench_onnx.py --write`",
        "",
        "Embedding(65, 256) → LSTM(512) → LSTM(512) → Dense(65) on the CPU: logits of a (16, 100) "
        "batch from zero states, and one streaming step at batch 1 with the states carried by "
        "the caller. Each system in its own process; fastest block's wall time, median block's "
        f"process CPU time. {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at the end; {versions}; "
        f"{args.threads} thread(s) per process; {args.blocks} blocks. Export (`to_onnx`) took "
        f"{export_s:.2f} s.",
        "",
        *rows,
        END,
    ])  # fmt: skip


def write_section(text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + text + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update bench/results.md")
    parser.add_argument("--system", choices=sorted(SYSTEMS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.system:  # a child: one system, results as JSON on the last line
        print(json.dumps(SYSTEMS[args.system](args.folder, args.blocks)))
        return
    env = thread_env(args.threads, JAX_PLATFORMS="cpu", OMP_WAIT_POLICY="PASSIVE",
                     PYTHONPATH=str(Path(__file__).resolve().parents[1]))  # fmt: skip
    results, export_s = {}, float("nan")
    with tempfile.TemporaryDirectory() as folder:
        for system in SYSTEMS:
            cmd = [sys.executable, __file__, "--system", system, "--folder", folder,
                   "--blocks", str(args.blocks)]  # fmt: skip
            out = run_child(system, cmd, env)
            if out is None:
                continue
            if system == "export":
                export_s = out["export_s"]
            else:
                results[system] = out
            print(f"{system}: done", file=sys.stderr, flush=True)
    text = report(results, args, export_s)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
