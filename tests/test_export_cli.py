"""``python -m candle_tf.export``: re-exporting a finished run, the export report, and the
evaluation pixels of a grey file-based data set."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.registry import load_dataset
from candle_tf.data.preprocess import eval_transform
from candle_tf.data.split import Split
from candle_tf.export.interpreter import X86_KERNELS
from candle_tf.export.report import REPORT_FILE
from candle_tf.stages import calibration, distillation, export_stage
from candle_tf.workdir import Workdir

CONFIG = RunConfig(images_per_class=20, imbalance_ratio=10, teacher="mobilenet_v2_035",
                   resolutions=(32,), student_resolution=16, width_multiplier=0.25,
                   stem_stride=1, parity_images=20)


def _dataset():
    return load_dataset(CONFIG.dataset, CONFIG.data_dir, CONFIG.imbalance_ratio, CONFIG.seed,
                        CONFIG.images_per_class)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A work dir whose stages 1 and 2 are done: untrained weights, real run record."""
    workdir = Workdir(str(tmp_path_factory.mktemp("run")))
    workdir.record_run(CONFIG)
    dataset = _dataset()
    teacher_path = os.path.join(workdir.stage_dir("calibration"), calibration.TEACHER_FILE)
    builders.calibrated_teacher(CONFIG, dataset).save_weights(teacher_path)
    workdir.mark_done("calibration", {"teacher": teacher_path})
    student_path = os.path.join(workdir.stage_dir("distillation"), distillation.STUDENT_FILE)
    builders.student(CONFIG, dataset).save_weights(student_path)
    workdir.mark_done("distillation", {"student": student_path})
    return workdir


@pytest.fixture(scope="module")
def cli_run(finished_run):
    # Version 1 is being served already: the re-export must add version 2.
    os.makedirs(os.path.join(finished_run.path, "export", "serving", "candle_student", "1"))
    result = subprocess.run([sys.executable, "-m", "candle_tf.export",
                             f"--workdir={finished_run.path}"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    export_dir = os.path.join(finished_run.path, "export")
    with open(os.path.join(export_dir, REPORT_FILE)) as handle:
        return result.stdout, json.load(handle), export_dir


def test_cli_writes_tflite_saved_model_and_report(cli_run):
    stdout, report, export_dir = cli_run
    assert report["student"] == "reactnet_a" and report["input_shape"] == [16, 16, 1]
    assert os.path.getsize(os.path.join(export_dir, export_stage.TFLITE_FILE)) == \
        report["tflite_bytes"]
    assert report["saved_model"] == os.path.join(export_dir, "serving", "candle_student", "2")
    assert os.path.exists(os.path.join(report["saved_model"], "saved_model.pb"))
    assert report["ops"]["binary_convs"] == report["ops"]["lce_bconv2d"] == 31
    assert report["parity"]["num_images"] == CONFIG.parity_images
    assert report["latency"]["kernels"] == X86_KERNELS and report["latency"]["median_ms"] > 0
    assert report["export_seconds"] > 0
    assert "| .tflite size (KB) |" in stdout and X86_KERNELS in stdout


def test_report_compares_student_and_teacher(cli_run):
    _, report, _ = cli_run
    student, teacher = report["cost"]["student"], report["cost"]["teacher"]
    assert student["binary_macs"] > 0 and student["fp_macs"] > 0
    assert student["ops"] == pytest.approx(student["binary_macs"] / 64 + student["fp_macs"])
    assert teacher["binary_macs"] == 0 and teacher["ops"] == teacher["fp_macs"] > student["ops"]
    # A float32 teacher stores 4 bytes a weight; the binary student about 1 bit.
    assert report["teacher_tflite_bytes"] > 4 * report["tflite_bytes"]


def test_reexport_refuses_a_run_without_a_student(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        export_stage.reexport(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="holds no run"):
        export_stage.reexport(str(tmp_path))
    Workdir(str(tmp_path)).record_run(CONFIG)
    with pytest.raises(FileNotFoundError, match="'calibration' has not finished.*train"):
        export_stage.reexport(str(tmp_path))


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
