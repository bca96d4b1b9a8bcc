"""Training under tf.distribute: the same first update on 2 replicas as on one, a
2-worker MultiWorkerMirroredStrategy distillation, and the strategy errors a user can hit.

TensorFlow fixes its devices and collective ops when it starts, so the distributed runs
are fresh processes (tests/distribute_workers.py).
"""

import json
import os
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest

from candle_tf import builders, distribute
from candle_tf.config import RunConfig
from candle_tf.data.registry import load_dataset
from candle_tf.data.pipeline import steps_per_epoch
from tests.distribute_workers import tiny_multi_worker_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "tests.distribute_workers", *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_first_step_matches_the_default_strategy():
    process = worker("first_step")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    result = last_json(out)
    assert result["replicas"] == 2
    # Student encoder + connector (descent), classifier (head pass), balancer (ascent),
    # calibration: the update of the global batch split over 2 replicas is the update of
    # the whole batch on one device.
    for group, tolerance in (("student", 5e-5), ("head", 5e-5), ("balancer", 1e-4),
                             ("calibration", 5e-5)):
        assert result[group]["max_abs_update"] > 1e-3, group  # the step did move them
        assert result[group]["max_abs_diff"] <= tolerance * result[group]["max_abs_update"], \
            (group, result[group])
    # Every replica computed the balancer's weights from the global-batch terms.
    logged = result["logs"]
    for key in ("lambda", "w2", "l_kl", "l_kl_bal", "l_fs", "head"):
        assert np.isclose(logged["mirrored"][key], logged["default"][key], rtol=1e-5), key


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def h5_arrays(path):
    arrays = []
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.append((name, item[()]))
                          if isinstance(item, h5py.Dataset) else None)
    return sorted(arrays, key=lambda pair: pair[0])


@pytest.mark.slow
def test_two_local_workers_distil_in_sync(tmp_path):
    root = str(tmp_path / "run")
    config = tiny_multi_worker_config(root)
    dataset = load_dataset(config.dataset, imbalance_ratio=config.imbalance_ratio,
                           seed=config.seed, images_per_class=config.images_per_class)
    teacher_weights = str(tmp_path / "teacher.weights.h5")
    builders.calibrated_teacher(config, dataset).save_weights(teacher_weights)
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        processes.append(worker("distill", root, teacher_weights,
                                env={**os.environ, "TF_CONFIG": json.dumps(tf_config)}))
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=900)
            assert process.returncode == 0, err[-3000:]
            results.append(last_json(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    chief, other = results
    assert (chief["chief"], other["chief"]) == (True, False)
    assert chief["replicas"] == other["replicas"] == 2
    assert chief["workdir"] == root
    assert other["workdir"] == os.path.join(root, "workers", "worker_1")
    steps = 2 * steps_per_epoch(len(dataset.train), config.distill_batch_size)
    for result in results:
        with open(os.path.join(result["workdir"], "distillation", "lambda.csv")) as handle:
            assert len(handle.read().splitlines()) == 1 + steps
    # Synchronous training: both workers end with the same student and lambda.
    assert chief["final_lambda"] == pytest.approx(other["final_lambda"], abs=1e-6)
    chief_weights, other_weights = h5_arrays(chief["student"]), h5_arrays(other["student"])
    assert [name for name, _ in chief_weights] == [name for name, _ in other_weights]
    for (name, a), (_, b) in zip(chief_weights, other_weights):
        assert np.allclose(a, b, atol=1e-6), name


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="Unknown --strategy='horovod'. Use one of default, "
                                         "mirrored, multi_worker, tpu"):
        distribute.make_strategy("horovod")


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        distribute.make_strategy("multi_worker")


def test_tpu_without_a_tpu_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(RuntimeError, match="--strategy=tpu: no TPU found .* TPU_NAME"):
        distribute.make_strategy("tpu")


def test_global_batch_must_split_over_the_replicas():
    distribute.check_batch_sizes(RunConfig(distill_batch_size=16, calib_batch_size=8,
                                           pretrain_batch_size=4), 4)
    with pytest.raises(ValueError, match=r"--distill_batch_size=10 does not split over the 4 "
                                         r"replicas .* multiple of 4, e.g. 8"):
        distribute.check_batch_sizes(RunConfig(distill_batch_size=10), 4)
