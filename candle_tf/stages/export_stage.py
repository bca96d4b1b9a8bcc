"""Stage 4: the student as an LCE ``.tflite`` (edge) and a TF Serving SavedModel (server),
and the export report (``export_report.json``, also printed)."""

import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from candle_tf import builders, export
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset
from candle_tf.export.report import REPORT_FILE, float_model_cost, format_report, student_cost
from candle_tf.models.students import logits_model
from candle_tf.workdir import write_json

TFLITE_FILE = "student.tflite"
SERVING_DIR = "serving"


def test_pixels(config: RunConfig, dataset: LongTailedDataset) -> np.ndarray:
    """The first ``parity_images`` test images, eval-transformed for the student."""
    batches = evaluation_dataset(dataset.test, config.eval_batch_size, config.student_view_size,
                                 config.eval_crop_fraction, dataset.channels)
    return np.stack([v["student"].numpy() for v, _ in batches.unbatch().take(
        config.parity_images)])


def _write_bytes(path: str, data: bytes) -> None:
    """Writes atomically, so a crash never leaves a truncated .tflite."""
    with open(f"{path}.partial", "wb") as handle:
        handle.write(data)
    os.replace(f"{path}.partial", path)


def run(config: RunConfig, dataset: LongTailedDataset, student_path: str, teacher_path: str,
        stage_dir: str, version: Optional[int] = None) -> dict:
    """Writes the .tflite, the SavedModel (``version``, default ``config.export_version``)
    and the export report; checks LCE conversion and parity. Returns the report."""
    start = time.perf_counter()
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    model = logits_model(student)
    flatbuffer = export.convert_to_lce(model)
    ops = export.check_binary_convs_converted(flatbuffer, model)
    tflite_path = os.path.join(stage_dir, TFLITE_FILE)
    _write_bytes(tflite_path, flatbuffer)
    parity = export.lce_parity(flatbuffer, model, test_pixels(config, dataset))
    input_shape = (config.student_resolution, config.student_resolution, dataset.channels)
    serving = export.export_saved_model(
        model, os.path.join(stage_dir, SERVING_DIR), config.export_model_name,
        version or config.export_version, dataset.class_names, config.student_resolution,
        dataset.channels, config.eval_crop_fraction)
    export_seconds = time.perf_counter() - start

    teacher = builders.load_calibrated_teacher(config, dataset, teacher_path)
    teacher_flatbuffer = export.convert_to_float_tflite(
        tf.keras.Model(teacher.inputs, teacher.outputs[0], name="teacher_logits"))
    report = {
        "student": config.student, "input_shape": list(input_shape),
        "tflite": tflite_path, "tflite_bytes": len(flatbuffer),
        "teacher_tflite_bytes": len(teacher_flatbuffer), "ops": ops,
        "cost": {"student": student_cost(model),
                 "teacher": float_model_cost(teacher_flatbuffer)},
        "parity": parity, "latency": export.lce_latency_ms(flatbuffer, input_shape),
        "saved_model": serving, "export_seconds": round(export_seconds, 1),
    }
    write_json(os.path.join(stage_dir, REPORT_FILE), report)
    print(format_report(report), flush=True)
    return report
