"""Killing a run (SIGKILL) mid-epoch and re-running the same command resumes it, with
exact records: each step's row once, the stage's seconds over both invocations."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from candle_tf.data.lt_protocol import long_tailed_counts
from tests.conftest import TINY, app_command, app_env, copy_run

BATCH = 4
FLAGS = [*TINY, "--distill_epochs=3", f"--distill_batch_size={BATCH}", "--verbose=2",
         "--log_every=4", "--until=distillation"]  # stages 3-4 are the tiny run's tests
STEPS_PER_EPOCH = sum(long_tailed_counts(40, 10, 10)) // BATCH  # 159 // 4 = 39


def command(workdir):
    return app_command("candle_tf.train", f"--workdir={workdir}", *FLAGS)


def logged(workdir):
    """The steps of lambda.csv's rows (one per step, written every 4 steps)."""
    try:
        with open(os.path.join(workdir, "distillation", "lambda.csv")) as handle:
            return [int(row.split(",")[0]) for row in handle.read().splitlines()[1:]]
    except FileNotFoundError:
        return []


def logged_steps(workdir):
    steps = logged(workdir)
    return steps[-1] if steps else 0


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(tiny_run, tmp_path):
    # The tiny run's teacher stages (same settings): this run starts at stage 2.
    workdir = copy_run(tiny_run[0], str(tmp_path / "run"), stages=("teacher", "calibration"))
    process = subprocess.Popen(command(workdir), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=app_env())
    deadline = time.time() + 600
    while logged_steps(workdir) < STEPS_PER_EPOCH + 5 and time.time() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    killed_at = logged_steps(workdir)
    assert STEPS_PER_EPOCH < killed_at < 2 * STEPS_PER_EPOCH  # inside the second epoch
    assert not os.path.exists(os.path.join(workdir, "distillation", "done.json"))
    with open(os.path.join(workdir, "distillation", "best", "best.json")) as handle:
        assert json.load(handle)["epoch"] == 1  # --select=best_val kept epoch 1 so far
    with open(os.path.join(workdir, "distillation", "clock.json")) as handle:
        first_invocation = json.load(handle)["seconds"]  # ticked at epoch 1's end
    assert first_invocation > 0

    result = subprocess.run(command(workdir), capture_output=True, text=True, timeout=600,
                            env=app_env())
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "stage 0: teacher — already done" in out
    assert "stage 1: calibration — already done" in out
    distillation = out.split("== stage 2: distillation")[1].split("== stage 3")[0]
    assert re.findall(r"^Epoch (\d)/3", distillation, re.M) == ["2", "3"]  # epoch 1 kept
    assert "Stage 'distillation': resuming from epoch 2 of 3" in distillation
    # Optimiser step count restored; the interrupted epoch's rows replaced, not repeated.
    assert logged(workdir) == list(range(1, 3 * STEPS_PER_EPOCH + 1))
    assert "Stopped after stage 'distillation' (--until)" in out
    assert not os.path.exists(os.path.join(workdir, "evaluation"))
    with open(os.path.join(workdir, "distillation", "done.json")) as handle:
        stage2 = json.load(handle)
    with open(os.path.join(workdir, "distillation", "best", "best.json")) as handle:
        assert stage2["selected_epoch"] == json.load(handle)["epoch"] in (1, 2, 3)
    assert stage2["last_epoch"] == 3 and stage2["select"] == "best_val"
    with open(os.path.join(workdir, "distillation", "clock.json")) as handle:
        clock = json.load(handle)
    # The seconds of both invocations: the killed one's (to its last epoch) and this one's.
    assert clock["before"] == first_invocation
    assert stage2["seconds"] == round(clock["seconds"], 1) > first_invocation
