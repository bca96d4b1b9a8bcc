"""The binary convolutions of a Keras model, and the check that LCE converted every one."""

from typing import Dict

import larq as lq
import tensorflow as tf

from candle_tf.export.flatbuffer import count_tflite_ops

# larq quantizers passed as plain functions (not Quantizer objects) carry no `precision`.
_BINARY_QUANTIZER_FUNCTIONS = {"ste_sign", "approx_sign", "swish_sign", "magnitude_aware_sign"}


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
