"""``python -m candle_tf.train``: every CANDLE stage, resumable, under ``--workdir``.

  0 teacher       pretrained FP encoder (ImageNet, a weights file, or pretrained offline)
  1 calibration   frozen encoder; multi-resolution fusion + classifier + LWS on the LT data
  2 distillation  binary student; KL, class-balanced KL and feature terms, weighed by an
                  adversarial balancer (candle_tf/pipeline.py, trainers/distill.py)
  3 evaluation    top-1, many / medium / few, per class on the balanced test set
  4 export        LCE .tflite for the edge, SavedModel for TF Serving

With no flags: ``--dataset=fashion_mnist_lt`` with its CPU-sized preset (flags/).
Re-running the same command skips finished stages and resumes an interrupted one.
"""

from absl import flags

from candle_tf import app_flags
from candle_tf.pipeline import Run

FLAGS = flags.FLAGS


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    app_flags.define_flags(flag_values)
    flags.adopt_module_key_flags(app_flags, flag_values=flag_values)  # --help lists them


def work(flag_values: flags.FlagValues = FLAGS) -> dict:
    """Runs (or resumes) stages 0-4 of the flags' run; returns its metrics."""
    return Run(app_flags.config_from_command_line(flag_values)).all()


if __name__ == "__main__":
    app_flags.run_app(define_flags, work)
