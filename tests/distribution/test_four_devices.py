"""lstmkit.distribution on 4 simulated CPU devices against the same training on one device.

JAX fixes its device count when it starts, so the checks run in one subprocess
(four_devices.py, XLA_FLAGS=--xla_force_host_platform_device_count=4) that prints them as JSON;
each test reads its part. The one-device runs are the reference: the distributed runs must give
their numbers (within 1e-5 after 2 epochs of Adam), their Keras parity is tested elsewhere
(tests/models/test_training_parity.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("four_devices.py")
TOL = 1e-5


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("four_devices")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        env=env, cwd=out, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULTS ") :])


def test_four_devices_are_used(results):
    assert results["devices"] == ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]


def test_data_parallel_matches_one_device(results):
    dp = results["dp"]
    assert dp["moved"] > 1e-2  # training changed the weights, so equal weights mean something
    assert dp["weights_diff"] < TOL
    assert dp["evaluate_diff"] < TOL and dp["predict_diff"] < TOL  # predict: 7 rows, padded


def test_data_parallel_replicates_parameters_and_splits_batches(results):
    dp = results["dp"]
    assert dp["param_devices"] == 4 and dp["param_replicated"] and dp["opt_replicated"]
    assert dp["batch_spec"] == ["batch", None, None]
    assert dp["batch_shard_rows"] == [2, 2, 2, 2]
    assert dp["train_traces"] == 1  # the results keep their layouts: one compiled step
    moved, expected = dp["moves"]  # each array put once (metric state: once per epoch)
    assert moved == expected


def test_steps_per_execution_under_data_parallel(results):
    assert results["steps_per_execution"]["weights_diff"] < TOL
    assert results["steps_per_execution"]["traces"] == 1


def test_stateful_model_states_split_by_row_and_reset(results):
    st = results["stateful"]
    assert st["weights_diff"] < TOL and st["predict_diff"] < TOL
    assert all(spec[0] == "batch" for spec in st["state_spec"]) and len(st["state_spec"]) == 2
    assert st["reset_zero"]


def test_model_parallel_on_a_2x2_mesh_matches_one_device(results):
    mp = results["mp"]
    assert mp["moved"] and mp["weights_diff"] < TOL
    assert mp["kernel_spec"] == [None, "model"]
    assert mp["kernel_shard_shape"] == [3, 8]  # (3, 16) split in two column blocks
    assert mp["bias_replicated"] and mp["train_traces"] == 1
    assert mp["moves"][0] == mp["moves"][1]  # nothing moved back between steps


def test_batches_that_do_not_split_evenly_say_which_sizes_work(results):
    whole, last, validation = results["divisibility_errors"]
    assert "batch_size=6 cannot be split evenly over the 4 devices" in whole
    assert "multiple of 4: 4, 8, 12, 16" in whole
    assert "last batch of the 30 samples holds 6" in last and "28 or 32 samples" in last
    assert validation.startswith("fit (validation data): the last batch of the 6 samples")


def test_validation_inside_fit_runs_on_the_mesh(results):
    val_loss, evaluated = results["validation"]
    assert abs(val_loss - evaluated) <= 1e-6 * max(1.0, abs(evaluated))


def test_saving_under_a_distribution_writes_the_one_device_file(results):
    save = results["save"]
    assert save["same_names"] and save["same_values"] and save["same_config"]
    assert save["n_datasets"] == 17  # 5 weights, 2x5 Adam moments, 2 counters


def test_loading_under_model_parallel_splits_the_kernels(results):
    assert results["mp"]["loaded_kernel_spec"] == [None, "model"]
    assert results["mp"]["loaded_equal"] == 0.0
