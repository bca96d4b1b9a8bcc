"""Test set-up: quiet TensorFlow, seeded, small; the one finished tiny run the app tests
share."""

import fcntl
import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The default data set's preset (shipped teacher at 64 px, ReActNet-A 0.25 at 28 px) on
# 40 -> 4 images per class and one epoch per stage.
TINY = ["--images_per_class=40", "--imbalance_ratio=10", "--calib_epochs=1",
        "--distill_epochs=1", "--parity_images=20", "--verbose=0"]


def app_command(app: str, *flags) -> list:
    return [sys.executable, "-m", app, *flags]


def app_env() -> dict:
    """The environment of an app run as a subprocess: this checkout's code."""
    return {**os.environ, "PYTHONPATH": REPO}


def pytest_collection_modifyitems(items):
    """A test that needs the shared tiny run (a whole pipeline) is slow."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    # Python's random too: Keras draws unseeded initialisers' seeds from it.
    tf.keras.utils.set_random_seed(0)
    tf.keras.backend.clear_session()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``python -m candle_tf.train`` on TINY, run once as its users run it: (work dir, its
    stdout). Tests read it; a test that writes copies it (``copy_run``). Under
    pytest-xdist the workers share one run: the first makes it, under a file lock."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder every worker's base temp dir is in
    workdir, log = str(root / "tiny_run"), str(root / "tiny_run.stdout")
    with open(str(root / "tiny_run.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(log):
            start = time.time()
            result = subprocess.run(
                app_command("candle_tf.train", f"--workdir={workdir}", *TINY),
                capture_output=True, text=True, timeout=900, env=app_env(), cwd=str(root))
            print(f"tiny run: {time.time() - start:.1f} s")
            assert result.returncode == 0, result.stderr[-3000:]
            with open(log, "w") as handle:
                handle.write(result.stdout)
    with open(log) as handle:
        return workdir, handle.read()


def copy_run(workdir: str, destination: str, stages=None) -> str:
    """A copy of a finished run (``stages``: only these stage folders, and run.json)."""
    if stages is None:
        shutil.copytree(workdir, destination)
        return destination
    os.makedirs(destination)
    shutil.copy(os.path.join(workdir, "run.json"), destination)
    for stage in stages:
        shutil.copytree(os.path.join(workdir, stage), os.path.join(destination, stage))
    return destination
