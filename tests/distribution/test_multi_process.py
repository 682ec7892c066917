"""Two processes on 127.0.0.1 (two CPU devices each) train one DataParallel model through
`lstmkit.distribution.initialize`, each feeding its half of every batch; they match a one-device
run, only process 0 writes the file, and when process 1 dies process 0 stops by itself with
JAX's error naming the lost task (two_processes.py is the program both run)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lstmkit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("two_processes.py")
HARD_TIMEOUT = 300  # seconds for the whole run, whatever happens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_processes")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    port = str(_free_port())
    procs, logs = [], []
    for pid in (0, 1):
        log = open(out / f"log{pid}.txt", "w")  # noqa: SIM115 (closed below)
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, str(SCRIPT), str(pid), port, str(out)],
                env=env,
                cwd=out,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    start = time.monotonic()
    try:
        for p in procs:
            p.wait(timeout=max(1.0, HARD_TIMEOUT - (time.monotonic() - start)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    texts = [(out / f"log{pid}.txt").read_text() for pid in (0, 1)]
    results = []
    for pid in (0, 1):
        path = out / f"p{pid}.json"
        assert path.exists(), f"process {pid} wrote no results:\n{texts[pid][-4000:]}"
        results.append(json.loads(path.read_text()))
    return {"out": out, "codes": [p.returncode for p in procs], "logs": texts, "results": results}


def _max_diff(a, b):
    return max(float(np.abs(np.asarray(u) - np.asarray(v)).max()) for u, v in zip(a, b))


def test_two_processes_see_four_devices(run):
    assert run["results"][0]["devices"] == run["results"][1]["devices"]
    assert len(run["results"][0]["devices"]) == 4


def test_two_processes_train_one_model_equal_to_one_device(run):
    p0, p1 = run["results"]
    assert _max_diff(p0["initial"], p1["initial"]) > 0.1  # seeded apart: process 0's values win
    assert _max_diff(p0["weights"], p1["weights"]) == 0.0
    assert _max_diff(p0["initial"], p0["reference"]) > 1e-2
    assert _max_diff(p0["weights"], p0["reference"]) < 1e-5
    assert p0["loss"] == p1["loss"]
    np.testing.assert_allclose(p0["loss"], p0["reference_loss"], rtol=1e-5)
    np.testing.assert_allclose(p0["predict"], p0["reference_predict"], atol=1e-5)


def test_only_process_zero_writes_the_file(run):
    path = run["out"] / "model_p0.keras"  # each process was asked to save under its own name
    assert path.exists() and not (run["out"] / "model_p1.keras").exists()
    loaded = lstmkit.models.load_model(path)
    assert _max_diff(loaded.get_weights(), run["results"][0]["weights"]) == 0.0
    assert "UNEXPECTED" not in run["logs"][0]


def test_a_dead_process_stops_the_other_with_a_clear_error(run):
    assert run["codes"][1] == 3  # process 1 died on purpose
    assert run["codes"][0] not in (0, None)  # process 0 stopped by itself, not by the timeout
    assert "training on while process 1 is gone" in run["logs"][0]
    assert "another task died" in run["logs"][0] or "heartbeat" in run["logs"][0]
