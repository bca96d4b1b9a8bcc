"""Keras -> ``.tflite``: LCE for the binary student, plain float32 TFLite for the teacher.

Both convert a lean SavedModel of the model's inference call (``InferenceModule``), which
is several times faster than saving the Keras model as the converters do by default.
"""

import tempfile

import larq_compute_engine as lce
import tensorflow as tf

from candle_tf.export.inference_module import InferenceModule


def check_single_output(model: tf.keras.Model) -> None:
    """Export needs one output (the logits)."""
    if model.outputs is not None and len(model.outputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(model.outputs)} outputs; export needs one output "
            "(the logits). Export the student itself, e.g. tf.keras.Model(inputs, logits).")


def save_inference_graph(model: tf.keras.Model, directory: str) -> None:
    """Saves ``model``'s inference call (one or several inputs, batch size open) as a
    SavedModel whose ``serving_default`` signature the converters read."""
    check_single_output(model)
    module = InferenceModule(model)
    specs = [tf.TensorSpec([None, *x.shape[1:]], x.dtype, name=x.name) for x in model.inputs]

    def serve(*inputs):
        return module.infer(list(inputs) if len(inputs) > 1 else inputs[0])

    function = tf.function(serve, input_signature=specs)
    tf.saved_model.save(module, directory,
                        signatures={"serving_default": function.get_concrete_function()})


def convert_to_lce(model: tf.keras.Model) -> bytes:
    """A single-output Keras model (raw pixels -> logits) as an LCE ``.tflite``."""
    with tempfile.TemporaryDirectory() as directory:
        save_inference_graph(model, directory)
        return lce.convert_saved_model(directory)


def convert_to_float_tflite(model: tf.keras.Model) -> bytes:
    """A single-output Keras model as a plain float32 ``.tflite`` (no quantisation).

    Ops without a TFLite builtin (e.g. anti-aliased resizing) are kept as TF Select ops.
    """
    with tempfile.TemporaryDirectory() as directory:
        save_inference_graph(model, directory)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                               tf.lite.OpsSet.SELECT_TF_OPS]
        return converter.convert()
