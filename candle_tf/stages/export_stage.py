"""Stage 4: the student as an LCE ``.tflite`` (edge) and a TF Serving SavedModel (server)."""

import os

import numpy as np

from candle_tf import builders, export
from candle_tf.config import RunConfig
from candle_tf.data.datasets import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset
from candle_tf.models.students import logits_model

TFLITE_FILE = "student.tflite"


def test_pixels(config: RunConfig, dataset: LongTailedDataset) -> np.ndarray:
    """The first ``parity_images`` test images, eval-transformed for the student."""
    views = {"student": config.student_resolution}
    batches = evaluation_dataset(dataset.test, config.eval_batch_size, views,
                                 config.eval_crop_fraction).unbatch().take(config.parity_images)
    return np.stack([v["student"].numpy() for v, _ in batches])


def run(config: RunConfig, dataset: LongTailedDataset, student_path: str,
        stage_dir: str) -> dict:
    """Writes the .tflite and the SavedModel; checks LCE conversion and parity."""
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    model = logits_model(student)
    flatbuffer = export.convert_to_lce(model)
    ops = export.check_binary_convs_converted(flatbuffer, model)
    tflite_path = os.path.join(stage_dir, TFLITE_FILE)
    with open(tflite_path, "wb") as handle:
        handle.write(flatbuffer)
    parity = export.lce_parity(flatbuffer, model, test_pixels(config, dataset))
    print(f"LCE interpreter vs Keras on {parity['num_images']} test images: "
          f"{100 * parity['agreement']:.2f} % same class, max |logit diff| "
          f"{parity['max_abs_logit_diff']:.4g}", flush=True)
    size = config.student_resolution
    serving = export.export_saved_model(
        model, os.path.join(stage_dir, "serving"), config.export_model_name,
        config.export_version, dataset.class_names, size, dataset.image_shape[-1],
        config.eval_crop_fraction)
    return {"tflite": tflite_path, "tflite_bytes": len(flatbuffer), "ops": ops,
            "parity": parity, "saved_model": serving}
