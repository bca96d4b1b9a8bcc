"""The LCE interpreter against Keras (parity) and its single-image latency on this machine."""

import os
import platform
import time
from typing import Dict, Tuple

import larq_compute_engine as lce
import numpy as np
import tensorflow as tf

X86_KERNELS = "x86 reference kernels (LCE's optimised kernels are for ARM)"
ARM_KERNELS = "ARM optimised kernels (LCE)"


def _interpreter(flatbuffer: bytes):
    return lce.testing.Interpreter(flatbuffer, num_threads=os.cpu_count() or 1)


def lce_parity(flatbuffer: bytes, model: tf.keras.Model, images: np.ndarray,
               batch_size: int = 64) -> Dict:
    """Compares the LCE interpreter with Keras on ``images`` (raw pixels, NHWC).

    Keras runs in batches of ``batch_size``; the interpreter, as on a device, one image
    at a time. Returns ``agreement`` (fraction of images with the same argmax),
    ``max_abs_logit_diff``, ``mean_abs_logit_diff`` and ``num_images``.
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
    difference = np.abs(keras_logits - lce_logits)
    return {
        "agreement": float(np.mean(keras_logits.argmax(-1) == lce_logits.argmax(-1))),
        "max_abs_logit_diff": float(difference.max()),
        "mean_abs_logit_diff": float(difference.mean()),
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
        "kernels": ARM_KERNELS if on_arm else X86_KERNELS,
    }
