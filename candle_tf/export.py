"""Stage 4: export a trained model for edge devices (LCE .tflite) and for TF Serving.

Every model here maps raw pixels (float32 in [0, 255], NHWC) to logits and normalises
inside its own graph, so the .tflite file, the SavedModel and evaluation all see the
same input. The SavedModel's ``serving_default`` decodes image bytes and applies the
shared evaluation transform (``candle_tf.data.preprocess``), so serving == evaluation.
"""

import collections
import functools
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, Sequence, Tuple

import larq as lq
import larq_compute_engine as lce
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.python import schema_util

from candle_tf.data.preprocess import eval_transform, to_channels

_BUILTIN_OP_NAMES = {code: name for name, code in vars(tflite_schema.BuiltinOperator).items()
                     if not name.startswith("_")}
# larq quantizers passed as plain functions (not Quantizer objects) carry no `precision`.
_BINARY_QUANTIZER_FUNCTIONS = {"ste_sign", "approx_sign", "swish_sign", "magnitude_aware_sign"}


def _single_output(model: tf.keras.Model) -> None:
    if model.outputs is not None and len(model.outputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(model.outputs)} outputs; export needs one output "
            "(the logits). Export the student itself, e.g. tf.keras.Model(inputs, logits).")


def convert_to_lce(model: tf.keras.Model) -> bytes:
    """Converts a single-output Keras model (raw pixels -> logits) to an LCE .tflite."""
    _single_output(model)
    return lce.convert_keras_model(model)


def count_tflite_ops(flatbuffer: bytes) -> collections.Counter:
    """Counts the operators of a .tflite flatbuffer by name, over all subgraphs.

    Builtin ops are named as in the TFLite schema ("CONV_2D", "FULLY_CONNECTED"),
    custom ops by their custom code ("LceBconv2d", "LceQuantize").
    """
    buffer = bytearray(flatbuffer)
    if not tflite_schema.Model.ModelBufferHasIdentifier(buffer, 0):
        raise ValueError(
            "flatbuffer is not a TFLite model (no 'TFL3' identifier); pass the bytes "
            "returned by convert_to_lce or read from a .tflite file in binary mode.")
    model = tflite_schema.Model.GetRootAs(buffer, 0)
    names = []
    for i in range(model.OperatorCodesLength()):
        opcode = model.OperatorCodes(i)
        code = schema_util.get_builtin_code_from_operator_code(opcode)
        if code == tflite_schema.BuiltinOperator.CUSTOM:
            names.append(opcode.CustomCode().decode("utf-8"))
        else:
            names.append(_BUILTIN_OP_NAMES.get(code, f"BUILTIN_{code}"))
    counts = collections.Counter()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for j in range(subgraph.OperatorsLength()):
            counts[names[subgraph.Operators(j).OpcodeIndex()]] += 1
    return counts


def _is_binary(quantizer) -> bool:
    if isinstance(quantizer, lq.quantizers.NoOp):
        return False
    if getattr(quantizer, "precision", None) == 1:
        return True
    return getattr(quantizer, "__name__", None) in _BINARY_QUANTIZER_FUNCTIONS


def _binary_conv_layers(model: tf.keras.Model):
    """The larq convs with binary input and kernel quantizers, nested models included."""
    layers = model.submodules
    convs = [layer for layer in layers if isinstance(layer, lq.layers.QuantConv2D)
             and _is_binary(layer.input_quantizer) and _is_binary(layer.kernel_quantizer)]
    depthwise = [layer for layer in layers if isinstance(layer, lq.layers.QuantDepthwiseConv2D)
                 and _is_binary(layer.input_quantizer)
                 and _is_binary(layer.depthwise_quantizer)]
    return convs, depthwise


def count_binary_convs(model: tf.keras.Model) -> int:
    """Number of larq QuantConv2D / QuantDepthwiseConv2D layers with binary input and
    kernel quantizers (larq precision 1), searching nested models and layers."""
    convs, depthwise = _binary_conv_layers(model)
    return len(convs) + len(depthwise)


def check_binary_convs_converted(flatbuffer: bytes, model: tf.keras.Model) -> Dict:
    """Checks that every binary conv of ``model`` became an ``LceBconv2d`` op.

    Returns ``{"binary_convs": n, "lce_bconv2d": n, "ops": {op name: count}}``; raises
    RuntimeError when the counts differ, i.e. some binary convs run in float.
    """
    ops = count_tflite_ops(flatbuffer)
    convs, depthwise = _binary_conv_layers(model)
    expected, found = len(convs) + len(depthwise), ops["LceBconv2d"]
    if found != expected:
        hint = ""
        if depthwise:
            hint = (f" The model has {len(depthwise)} binary QuantDepthwiseConv2D layer(s): "
                    "LCE has no binary depthwise kernel, so they always run in float; use a "
                    "binary QuantConv2D or a float DepthwiseConv2D instead.")
        raise RuntimeError(
            f"Model {model.name!r} has {expected} binary convolutions but the .tflite has "
            f"{found} LceBconv2d ops ({dict(ops)}): {expected - found} binary conv(s) "
            "fell back to float and lose the binary speed-up. Give every binary "
            "QuantConv2D a ±1 sign input quantizer (ste_sign, approx_sign, swish_sign; not "
            "ste_heaviside or DoReFa) and a ±1 kernel quantizer (e.g. magnitude_aware_sign), "
            "and prefer padding='same' with pad_values=1.0 and use_bias=False." + hint)
    return {"binary_convs": expected, "lce_bconv2d": found, "ops": dict(ops)}


def _interpreter(flatbuffer: bytes):
    return lce.testing.Interpreter(flatbuffer, num_threads=os.cpu_count() or 1)


def lce_parity(flatbuffer: bytes, model: tf.keras.Model, images: np.ndarray,
               batch_size: int = 64) -> Dict:
    """Compares the LCE interpreter with Keras on ``images`` (raw pixels, NHWC).

    Keras runs in batches of ``batch_size``; the interpreter, as on a device, one image
    at a time. Returns ``agreement`` (fraction of images with the same argmax),
    ``max_abs_logit_diff`` and ``num_images``.
    """
    images = np.asarray(images, np.float32)
    expected_shape = tuple(model.input_shape[1:])
    if images.ndim != 4 or len(images) == 0 or (
            None not in expected_shape and images.shape[1:] != expected_shape):
        raise ValueError(
            f"images has shape {images.shape}; lce_parity needs a non-empty batch of raw "
            f"pixels shaped (N, {', '.join(map(str, expected_shape))}).")
    keras_logits = model.predict(images, batch_size=batch_size, verbose=0)
    lce_logits = _interpreter(flatbuffer).predict(images)
    lce_logits = np.asarray(lce_logits).reshape(keras_logits.shape)
    return {
        "agreement": float(np.mean(keras_logits.argmax(-1) == lce_logits.argmax(-1))),
        "max_abs_logit_diff": float(np.max(np.abs(keras_logits - lce_logits))),
        "num_images": len(images),
    }


def lce_latency_ms(flatbuffer: bytes, input_shape: Tuple[int, int, int],
                   runs: int = 20) -> Dict:
    """Median and mean wall time (ms) of one single-image inference in the LCE interpreter.

    ``input_shape`` is one image's (height, width, channels). Off ARM the interpreter
    uses reference kernels, so x86 numbers say nothing about device speed.
    """
    if runs < 1:
        raise ValueError(f"runs={runs}; lce_latency_ms needs runs >= 1.")
    interpreter = _interpreter(flatbuffer)
    model_shape = tuple(interpreter.input_shapes[0][1:])
    if tuple(input_shape) != model_shape:
        raise ValueError(f"input_shape={tuple(input_shape)} but the .tflite model takes "
                         f"{model_shape}; pass one image's (height, width, channels).")
    image = np.random.default_rng(0).uniform(0, 255, (1, *input_shape)).astype(np.float32)
    interpreter.predict(image)  # warm-up: allocation and first-call costs
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.predict(image)
        times.append((time.perf_counter() - start) * 1e3)
    on_arm = platform.machine().lower() in ("aarch64", "arm64", "armv7l", "armv8l")
    return {
        "median_ms": float(np.median(times)),
        "mean_ms": float(np.mean(times)),
        "runs": runs,
        "num_threads": os.cpu_count() or 1,
        "kernels": ("ARM optimized (LCE)" if on_arm
                    else "x86 reference (LCE fast kernels are for ARM)"),
    }


class _ServingModule(tf.Module):
    """The model plus its serving preprocessing, as a tf.Module with two signatures."""

    def __init__(self, model, class_names, image_size, channels, crop_fraction):
        super().__init__()
        # Track only the variables: tracking the Keras model itself would make the save
        # serialise (and trace) every Keras layer, which serving never uses.
        self._variables = list(model.variables)
        self._call_model = functools.partial(model, training=False)
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
        pixels = tf.map_fn(self._decode, images, fn_output_signature=tf.TensorSpec(
            [self._image_size, self._image_size, self._channels], tf.float32))
        return self._serve_pixels(pixels)

    def _serve_pixels(self, pixels):
        # Loaded signatures do not check shapes, and a wrong rank would abort the process
        # inside the conv kernels: reject it here as an InvalidArgumentError.
        pixels = tf.ensure_shape(
            pixels, [None, self._image_size, self._image_size, self._channels],
            name="check_pixels_shape")
        probabilities = tf.nn.softmax(self._call_model(pixels), axis=-1)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id,
                "class_name": tf.gather(self._class_names, class_id)}


def export_saved_model(model: tf.keras.Model, export_base, model_name: str, version: int,
                       class_names: Sequence[str], image_size: int, channels: int,
                       crop_fraction: float = 1.0) -> str:
    """Writes a TF Serving SavedModel to ``<export_base>/<model_name>/<version>/``.

    Signatures (outputs ``probabilities`` [N, C], ``class_id`` int64 [N], ``class_name``
    string [N] for both):
      * ``serving_default(images)``: 1-D string batch of JPEG/PNG/GIF/BMP bytes (what the
        REST API delivers from ``{"b64": ...}``), decoded, converted to ``channels`` and
        passed through ``eval_transform(image, image_size, crop_fraction)`` (an alpha
        channel is dropped);
      * ``predict_pixels(pixels)``: float32 [N, image_size, image_size, channels] in [0, 255].
    The graph needs only TensorFlow to load. The version directory is written under a
    temporary name and renamed, so a watching server never sees a partial export.
    Returns the version directory.
    """
    _single_output(model)
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
