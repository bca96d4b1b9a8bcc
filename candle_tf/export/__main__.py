"""``python -m candle_tf.export --workdir=DIR``: re-export a finished run's student.

Reads the run's settings from ``DIR/run.json`` (what ``python -m candle_tf.train``
recorded), loads stage 2's student and stage 1's calibrated teacher, and writes what
stage 4 writes: ``DIR/export/student.tflite`` (LCE), a new TF Serving version under
``DIR/export/serving/<name>/``, and the export report ``DIR/export/export_report.json``,
printed as a table.
"""

from absl import flags

from candle_tf import app_flags
from candle_tf.pipeline import Run

FLAGS = flags.FLAGS


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    flags.DEFINE_string("workdir", None, "Work dir of a finished `python -m candle_tf.train` "
                        "run.", flag_values=flag_values)
    flags.DEFINE_integer("version", None, "TF Serving version to write (default: one more "
                         "than the newest under export/serving/<name>/).", lower_bound=1,
                         flag_values=flag_values)
    flags.mark_flag_as_required("workdir", flag_values=flag_values)


def work(flag_values: flags.FlagValues = FLAGS):
    return Run.reopen(flag_values.workdir).export_again(flag_values.version)


if __name__ == "__main__":
    app_flags.run_app(define_flags, work)
