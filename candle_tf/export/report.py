"""The export report: what the edge export costs and how faithful it is.

Sizes of the student's LCE ``.tflite`` and of the FP32 teacher's plain TFLite file; the
student's binary and float multiply-accumulates (MACs) from larq's model profile and the
teacher's from its ``.tflite``; OPs = binary MACs / 64 + float MACs (ReActNet's measure,
its "BOPs / 64 + FLOPs"); LCE-vs-Keras parity on test images; the LCE interpreter's
latency on this machine; the export's wall time.
"""

import larq as lq
import tensorflow as tf

from candle_tf.export.flatbuffer import float_macs

REPORT_FILE = "export_report.json"


def _cost(binary_macs: int, fp_macs: int) -> dict:
    return {"binary_macs": int(binary_macs), "fp_macs": int(fp_macs),
            "ops": binary_macs / 64 + fp_macs}


def student_cost(model: tf.keras.Model) -> dict:
    """Binary (1-bit) and float (32-bit) MACs and OPs of a larq model, nested models included."""
    profile = lq.models.ModelProfile(model)
    return _cost(profile.op_count("mac", 1), profile.op_count("mac", 32))


def float_model_cost(flatbuffer: bytes) -> dict:
    """MACs and OPs of a float .tflite (no binary ops): its conv and dense MACs."""
    return _cost(0, float_macs(flatbuffer))


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator else "-"


def format_report(report: dict) -> str:
    """The report as Markdown: a student-vs-teacher table, then parity, latency, time."""
    student, teacher = report["cost"]["student"], report["cost"]["teacher"]
    kb_student, kb_teacher = report["tflite_bytes"] / 1024, report["teacher_tflite_bytes"] / 1024
    rows = [
        (".tflite size (KB)", f"{kb_student:,.1f}", f"{kb_teacher:,.1f}",
         _ratio(kb_teacher, kb_student)),
        ("binary MACs", f"{student['binary_macs']:,}", f"{teacher['binary_macs']:,}", ""),
        ("float MACs", f"{student['fp_macs']:,}", f"{teacher['fp_macs']:,}",
         _ratio(teacher["fp_macs"], student["fp_macs"])),
        ("OPs = binary MACs / 64 + float MACs", f"{student['ops']:,.0f}",
         f"{teacher['ops']:,.0f}", _ratio(teacher["ops"], student["ops"])),
    ]
    parity, latency, ops = report["parity"], report["latency"], report["ops"]
    lines = [f"Export of the {report['student']} student "
             f"({'x'.join(map(str, report['input_shape']))} inputs):", "",
             "| | student (LCE .tflite) | FP32 teacher (TFLite) | teacher / student |",
             "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines += [
        "",
        f"- LceBconv2d ops: {ops['lce_bconv2d']} of {ops['binary_convs']} binary convolutions.",
        f"- LCE interpreter vs Keras on {parity['num_images']} test images: "
        f"{100 * parity['agreement']:.2f} % same class; |logit difference| max "
        f"{parity['max_abs_logit_diff']:.3g}, mean {parity['mean_abs_logit_diff']:.3g}.",
        f"- LCE interpreter latency, one image: median {latency['median_ms']:.2f} ms, mean "
        f"{latency['mean_ms']:.2f} ms over {latency['runs']} runs, "
        f"{latency['num_threads']} threads; {latency['kernels']}.",
        f"- Export wall time (LCE conversion, op check, parity, SavedModel): "
        f"{report['export_seconds']:.1f} s.",
    ]
    return "\n".join(lines)
