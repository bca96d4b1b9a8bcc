"""The run record: same settings resume, changed settings are refused."""

import json

import pytest

from candle_tf.config import RunConfig
from candle_tf.workdir import Workdir


def test_resume_with_same_settings_and_refuse_changed_ones(tmp_path):
    workdir = Workdir(str(tmp_path))
    workdir.record_run(RunConfig(temperature=2.0))
    workdir.record_run(RunConfig(temperature=2.0, verbose=0))  # not a result setting
    with pytest.raises(ValueError, match=r"--temperature: was 2.0, now 4.0"):
        workdir.record_run(RunConfig(temperature=4.0))
    with open(tmp_path / "run.json") as handle:
        record = json.load(handle)
    assert len(record["invocations"]) == 2
    assert record["invocations"][0]["versions"]["tensorflow"].startswith("2.15")


def test_a_setting_missing_from_an_older_record_counts_as_its_default(tmp_path):
    workdir = Workdir(str(tmp_path))
    workdir.record_run(RunConfig())
    path = tmp_path / "run.json"
    record = json.loads(path.read_text())
    del record["settings"]["ce_weight"]  # as if recorded before ce_weight existed
    path.write_text(json.dumps(record))
    workdir.record_run(RunConfig())
    with pytest.raises(ValueError, match=r"--ce_weight: was 0.0, now 0.5"):
        workdir.record_run(RunConfig(ce_weight=0.5))
