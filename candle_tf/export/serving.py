"""TF Serving: a SavedModel in ``<export_base>/<model_name>/<version>/`` that serves images.

``serving_default`` decodes image bytes and applies the shared evaluation transform
(``candle_tf.data.preprocess``), so serving == evaluation; ``predict_pixels`` takes pixels.
The graph needs only TensorFlow to load (no larq, no candle_tf).

Each image of a ``serving_default`` batch succeeds or fails on its own
(``candle_tf.export.image_bytes``): an empty, unknown, corrupt or truncated upload gets
``valid=False`` and an ``error`` message in its row, and the other rows their predictions.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import tensorflow as tf

from candle_tf.data.preprocess import eval_transform, to_channels
from candle_tf.export.convert import check_single_output
from candle_tf.export.image_bytes import decode_images
from candle_tf.export.inference_module import InferenceModule


def next_version(export_base, model_name: str) -> int:
    """One more than the highest version under ``<export_base>/<model_name>/`` (1 if none)."""
    folder = Path(export_base) / model_name
    if not folder.is_dir():
        return 1
    versions = [int(path.name) for path in folder.iterdir() if path.name.isdigit()]
    return max(versions, default=0) + 1


class _ServingModule(InferenceModule):
    """The model plus its serving preprocessing, with two signatures."""

    def __init__(self, model, class_names, image_size, channels, crop_fraction):
        super().__init__(model)
        self._class_names = tf.constant(list(class_names))
        self._image_size = image_size
        self._channels = channels
        self._crop_fraction = crop_fraction
        images_spec = tf.TensorSpec([None], tf.string, name="images")
        pixels_spec = tf.TensorSpec([None, image_size, image_size, channels], tf.float32,
                                    name="pixels")
        self.serving_default = tf.function(self._serve_images, input_signature=[images_spec])
        self.predict_pixels = tf.function(self._serve_pixels, input_signature=[pixels_spec])

    def _decode(self, data):
        image = tf.io.decode_image(data, expand_animations=False)  # uint8, 1-4 channels
        # Alpha channels (grey+alpha, RGBA) are dropped before matching `channels`.
        image = tf.cond(
            tf.shape(image)[-1] < 3,
            lambda: to_channels(tf.ensure_shape(image[..., :1], [None, None, 1]),
                                self._channels),
            lambda: to_channels(tf.ensure_shape(image[..., :3], [None, None, 3]),
                                self._channels))
        return eval_transform(image, self._image_size, self._crop_fraction)

    def _serve_images(self, images):
        images = tf.ensure_shape(images, [None], name="check_images_shape")
        pixels, indices, valid, error = decode_images(images, self._decode, tf.TensorSpec(
            [self._image_size, self._image_size, self._channels], tf.float32))
        decoded = self._serve_pixels(pixels)  # the K images that decoded, rows `indices`
        rows, size = indices[:, None], tf.shape(images)[0]
        return {
            "probabilities": tf.scatter_nd(rows, decoded["probabilities"],
                                           [size, self._class_names.shape[0]]),
            "class_id": tf.tensor_scatter_nd_update(
                tf.fill([size], tf.constant(-1, tf.int64)), rows, decoded["class_id"]),
            "class_name": tf.tensor_scatter_nd_update(tf.fill([size], ""), rows,
                                                      decoded["class_name"]),
            "valid": valid,
            "error": error,
        }

    def _serve_pixels(self, pixels):
        # Loaded signatures do not check shapes, and a wrong rank would abort the process
        # inside the conv kernels: reject it here as an InvalidArgumentError.
        pixels = tf.ensure_shape(
            pixels, [None, self._image_size, self._image_size, self._channels],
            name="check_pixels_shape")
        # Batch norm fails on an empty batch: then the model sees one blank image, dropped.
        size = tf.shape(pixels)[0]
        blank = tf.zeros([1 - tf.minimum(size, 1), self._image_size, self._image_size,
                          self._channels])
        padded = tf.concat([pixels, blank], 0)
        probabilities = tf.nn.softmax(self.infer(padded)[:size], axis=-1)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id,
                "class_name": tf.gather(self._class_names, class_id)}


def export_saved_model(model: tf.keras.Model, export_base, model_name: str, version: int,
                       class_names: Sequence[str], image_size: int, channels: int,
                       crop_fraction: float = 1.0) -> str:
    """Writes a TF Serving SavedModel to ``<export_base>/<model_name>/<version>/``.

    Signatures (outputs ``probabilities`` float32 [N, C], ``class_id`` int64 [N],
    ``class_name`` string [N] for both):
      * ``serving_default(images)``: 1-D string batch of PNG/JPEG/GIF/BMP bytes (what the
        REST API delivers from ``{"b64": ...}``), decoded, converted to ``channels`` and
        passed through ``eval_transform(image, image_size, crop_fraction)`` (an alpha
        channel is dropped). Each image succeeds or fails on its own, with two more
        outputs: ``valid`` bool [N] and ``error`` string [N] ("" when valid, else e.g.
        "empty input"); an invalid image's row has ``class_id`` -1, ``class_name`` "" and
        ``probabilities`` all 0. Only a batch that is not a 1-D string tensor fails whole;
      * ``predict_pixels(pixels)``: float32 [N, image_size, image_size, channels] in [0, 255].
    The graph needs only TensorFlow to load. The version directory is written under a
    temporary name and renamed, so a watching server never sees a partial export.
    Returns the version directory.
    """
    check_single_output(model)
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}; use 1 (grey) or 3 (RGB).")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version={version!r}; TF Serving needs a positive integer version.")
    if not 0.0 < crop_fraction <= 1.0:
        raise ValueError(f"crop_fraction={crop_fraction}; use a fraction in (0, 1], "
                         "the same as for evaluation.")
    input_shape = tuple(model.input_shape[1:])
    if input_shape not in ((None, None, channels), (image_size, image_size, channels)):
        raise ValueError(
            f"The model takes inputs shaped {input_shape} but image_size={image_size}, "
            f"channels={channels}; pass the size and channels the model was trained with.")
    num_classes = model.output_shape[-1]
    if len(class_names) != num_classes:
        raise ValueError(
            f"class_names has {len(class_names)} names but the model has {num_classes} "
            "outputs; pass one name per class, in label order.")
    target = Path(export_base) / model_name / str(version)
    if target.exists():
        raise FileExistsError(
            f"{target} exists; TF Serving versions are immutable: export with a new version "
            "number or delete the old one first.")
    target.parent.mkdir(parents=True, exist_ok=True)
    module = _ServingModule(model, [str(name) for name in class_names], image_size,
                            channels, crop_fraction)
    # TF Serving ignores non-numeric directories, so the temporary one is invisible to it.
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=target.parent))
    try:
        tf.saved_model.save(module, str(staging), signatures={
            "serving_default": module.serving_default.get_concrete_function(),
            "predict_pixels": module.predict_pixels.get_concrete_function(),
        })
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)
