"""Stage 4's tools: the student as an LCE ``.tflite`` (edge) and a TF Serving SavedModel.

Every model here maps raw pixels (float32 in [0, 255], NHWC) to logits and normalises
inside its own graph, so the .tflite file, the SavedModel and evaluation all see the
same input. ``python -m candle_tf.export --workdir=DIR`` re-exports a finished run.

  convert        Keras -> LCE .tflite (student), float32 .tflite (teacher)
  flatbuffer     operator counts and float MACs of a .tflite
  binary_convs   binary convs of a model; the check that each became an LceBconv2d
  interpreter    LCE interpreter vs Keras (parity), single-image latency
  serving        TF Serving SavedModel (image bytes and pixel signatures)
  report         the export report: sizes, MACs / OPs, parity, latency, wall time
"""

from candle_tf.export.binary_convs import check_binary_convs_converted, count_binary_convs
from candle_tf.export.convert import convert_to_float_tflite, convert_to_lce
from candle_tf.export.flatbuffer import count_tflite_ops, float_macs
from candle_tf.export.interpreter import lce_latency_ms, lce_parity
from candle_tf.export.serving import export_saved_model, next_version

__all__ = ["check_binary_convs_converted", "convert_to_float_tflite", "convert_to_lce",
           "count_binary_convs", "count_tflite_ops", "export_saved_model", "float_macs",
           "lce_latency_ms", "lce_parity", "next_version"]
