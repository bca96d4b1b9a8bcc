"""The run record: a setting is locked once a stage that depends on it has started;
stage times add up over interrupted invocations; a bad --workdir is refused up front."""

import json
import os
import time

import pytest

from candle_tf.config import RunConfig
from candle_tf.workdir import Workdir, check_writable, start_clock, tick_clock


def start_stage(workdir: Workdir, stage: str) -> None:
    """Leaves what an interrupted stage leaves: an epoch's record."""
    with open(os.path.join(workdir.stage_dir(stage), "history.csv"), "w") as handle:
        handle.write("epoch,loss\n0,1.0\n")


def test_settings_of_a_started_stage_are_locked_and_later_ones_are_not(tmp_path):
    workdir = Workdir(str(tmp_path))
    workdir.record_run(RunConfig(temperature=2.0, teacher_weights="imagenet"))
    # A first attempt that failed before any stage started: the retry may change anything.
    workdir.record_run(RunConfig(temperature=2.0, teacher_weights="pretrain"))
    start_stage(workdir, "teacher")
    assert workdir.started_stages() == ["teacher"]
    workdir.record_run(RunConfig(temperature=4.0, teacher_weights="pretrain", verbose=0))
    with pytest.raises(ValueError, match=r"--teacher_weights: was 'pretrain', now 'imagenet'"):
        workdir.record_run(RunConfig(temperature=4.0, teacher_weights="imagenet"))
    with pytest.raises(ValueError, match=r"--seed: was 0, now 1"):  # data: locked too
        workdir.record_run(RunConfig(temperature=4.0, teacher_weights="pretrain", seed=1))
    start_stage(workdir, "distillation")
    with pytest.raises(ValueError, match=r"stages teacher, student started.*\n"
                                         r"  --temperature: was 4.0, now 2.0"):
        workdir.record_run(RunConfig(temperature=2.0, teacher_weights="pretrain"))
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["settings"]["temperature"] == 4.0
    assert len(record["invocations"]) == 3
    assert record["invocations"][0]["versions"]["tensorflow"].startswith("2.15")


def test_a_setting_missing_from_an_older_record_counts_as_its_default(tmp_path):
    workdir = Workdir(str(tmp_path))
    workdir.record_run(RunConfig())
    start_stage(workdir, "calibration")
    start_stage(workdir, "distillation")
    path = tmp_path / "run.json"
    record = json.loads(path.read_text())
    del record["settings"]["ce_weight"]  # as if recorded before ce_weight existed
    path.write_text(json.dumps(record))
    workdir.record_run(RunConfig())
    with pytest.raises(ValueError, match=r"--ce_weight: was 0.0, now 0.5"):
        workdir.record_run(RunConfig(ce_weight=0.5))


def test_a_stage_clock_adds_the_seconds_of_every_invocation(tmp_path):
    start_clock(str(tmp_path))
    time.sleep(0.2)
    first = tick_clock(str(tmp_path))          # the epoch-end tick of the first invocation
    start_clock(str(tmp_path))                 # killed; the stage runs again
    time.sleep(0.2)
    total = tick_clock(str(tmp_path))
    assert first >= 0.2 and total >= first + 0.2
    assert total < first + 0.2 + 5


def test_a_workdir_that_cannot_hold_a_run_is_refused(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ValueError, match=r"--workdir=.*is a file, not a folder"):
        check_writable(str(a_file / "run"))
    with pytest.raises(ValueError, match=r"--workdir=/sys/candle_run: cannot write in /sys"):
        check_writable("/sys/candle_run")      # read-only even for root
    check_writable(str(tmp_path / "new" / "run"))  # missing folders are fine
