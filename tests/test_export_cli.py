"""``python -m candle_tf.export``: re-exporting a finished run, the export report, and the
evaluation pixels of a grey file-based data set."""

import contextlib
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.preprocess import eval_transform
from candle_tf.data.split import Split
from candle_tf.export.interpreter import X86_KERNELS
from candle_tf.export import __main__ as export_main
from candle_tf.export.report import REPORT_FILE
from candle_tf.pipeline import Run
from candle_tf.stages import export_stage
from candle_tf.workdir import Workdir
from tests.apps import call
from tests.conftest import copy_run

@pytest.fixture(scope="module")
def reexported(tiny_run, tmp_path_factory):
    """``python -m candle_tf.export --workdir=<a copy of the tiny run>`` (in-process): its
    output, its report and the export folder. Version 1 is served already: the re-export
    must add version 2."""
    workdir = copy_run(tiny_run[0], str(tmp_path_factory.mktemp("reexport") / "run"))
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code, _ = call(export_main, f"--workdir={workdir}")
    assert code == 0
    export_dir = os.path.join(workdir, "export")
    with open(os.path.join(export_dir, REPORT_FILE)) as handle:
        return output.getvalue(), json.load(handle), export_dir


def test_reexport_writes_tflite_saved_model_and_report(reexported):
    stdout, report, export_dir = reexported
    assert report["student"] == "reactnet_a" and report["input_shape"] == [28, 28, 1]
    assert os.path.getsize(os.path.join(export_dir, export_stage.TFLITE_FILE)) == \
        report["tflite_bytes"]
    assert report["saved_model"] == os.path.join(export_dir, "serving", "candle_student", "2")
    assert os.path.exists(os.path.join(report["saved_model"], "saved_model.pb"))
    assert report["ops"]["binary_convs"] == report["ops"]["lce_bconv2d"] == 31
    assert report["parity"]["num_images"] == 20  # --parity_images of TINY
    assert report["latency"]["kernels"] == X86_KERNELS and report["latency"]["median_ms"] > 0
    assert report["export_seconds"] > 0
    assert "| .tflite size (KB) |" in stdout and X86_KERNELS in stdout


def test_report_compares_student_and_teacher(reexported):
    _, report, _ = reexported
    student, teacher = report["cost"]["student"], report["cost"]["teacher"]
    assert student["binary_macs"] > 0 and student["fp_macs"] > 0
    assert student["ops"] == pytest.approx(student["binary_macs"] / 64 + student["fp_macs"])
    assert teacher["binary_macs"] == 0 and teacher["ops"] == teacher["fp_macs"] > student["ops"]
    # A float32 teacher stores 4 bytes a weight; the binary student about 1 bit.
    assert report["teacher_tflite_bytes"] > 4 * report["tflite_bytes"]


def test_reexport_refuses_a_run_without_a_student(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        Run.reopen(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="holds no run"):
        Run.reopen(str(tmp_path))
    Workdir(str(tmp_path)).record_run(RunConfig())
    with pytest.raises(FileNotFoundError, match="'calibration' has not finished.*train"):
        Run.reopen(str(tmp_path)).export_again()


def test_parity_pixels_keep_the_data_set_channels(tmp_path):
    # A grey image-file data set: pixels are decoded to its 1 channel, not the default 3.
    rng = np.random.default_rng(0)
    paths, images = [], []
    for i in range(3):
        image = rng.integers(0, 256, (10, 12, 1), dtype=np.uint8)
        path = str(tmp_path / f"{i}.png")
        tf.io.write_file(path, tf.io.encode_png(image))
        paths.append(path)
        images.append(image)
    split = Split(None, np.array([0, 1, 0]), np.array(paths))
    dataset = LongTailedDataset("grey_files", ("a", "b"), split, split, split, None,
                                channels=1)
    config = RunConfig(student_resolution=8, parity_images=2, eval_batch_size=2)
    pixels = export_stage.test_pixels(config, dataset)
    assert pixels.shape == (2, 8, 8, 1)
    np.testing.assert_allclose(pixels[1], eval_transform(tf.constant(images[1]), 8), atol=1e-4)
