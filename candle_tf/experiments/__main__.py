"""``python -m candle_tf.experiments --dataset=NAME --methods=... --seeds=0,1,2``

Runs every method for every seed on the same binary student, data and schedule, resumably
(each (method, seed) in ``<workdir>/seed_<s>/methods/<method>/``; the teacher stages of a
seed are shared), then writes ``results.md``, ``results.json`` and PNG plots to
``--report_dir``. Every flag of ``candle_tf.train`` applies (sizes: --distill_epochs,
--images_per_class, --width_multiplier, ...) except --seed, which --seeds replaces; with no
--workdir the grid goes to ``runs/experiments/<dataset>``.
"""

import dataclasses
import os

from absl import app, flags

from candle_tf import app_flags
from candle_tf.data.registry import DATASETS
from candle_tf.experiments import grid, report  # grid imports candle_tf.train: its flags
from candle_tf.experiments.methods import METHODS
from trainers.baselines import BaselineSettings

FLAGS = flags.FLAGS
SETTINGS_HELP = {
    "cb_beta": "Effective-number beta of class-balanced re-weighting and of DRW.",
    "ldam_max_margin": "LDAM margin of the rarest class (margins follow n^-1/4).",
    "ldam_scale": "LDAM logit scale s.",
    "drw_start": "LDAM-DRW re-weights from this fraction of --distill_epochs on.",
    "logit_adjust_tau": "tau of the logit-adjusted loss (1 = Balanced Softmax).",
    "mixup_alpha": "Beta(alpha, alpha) of MiSLAS's stage-1 mixup.",
    "mislas_lr": "SGD learning rate per 128 images of MiSLAS's classifier re-training (its "
                 "other settings: the calib_* flags).",
    "kd_ce_weight": "Weight of the label term in plain KD and in candle_bs_label.",
}


def define_flags() -> None:
    """The harness's own flags (the RunConfig flags come with candle_tf.train)."""
    flags.DEFINE_list("methods", list(METHODS), "Methods to run, in this order: "
                      + ", ".join(METHODS) + ".")
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds; each draws its own LT split and trains "
                      "its own teacher and students.")
    flags.DEFINE_string("report_dir", "", "Where the table and plots go (default "
                        "<workdir>/report).")
    flags.DEFINE_bool("report_only", False, "Train nothing: write the report of what the "
                      "grid under --workdir finished for these methods and seeds (methods "
                      "run on fewer seeds show their own seed count).")
    for spec in dataclasses.fields(BaselineSettings):
        flags.DEFINE_float(spec.name, spec.default, SETTINGS_HELP[spec.name])
    flags.adopt_module_key_flags(app_flags)


def run(explicit_workdir: bool) -> None:
    """Runs the grid the flags describe, then writes and prints its report."""
    config = app_flags.config_from_command_line(FLAGS)
    if not explicit_workdir:
        config = dataclasses.replace(config, workdir=os.path.join("runs", "experiments",
                                                                  config.dataset))
    settings = BaselineSettings(**{spec.name: FLAGS[spec.name].value
                                   for spec in dataclasses.fields(BaselineSettings)})
    if not all(seed.isdigit() for seed in FLAGS.seeds):
        raise ValueError(f"--seeds={','.join(FLAGS.seeds)}: give whole numbers, e.g. 0,1,2.")
    seeds = [int(seed) for seed in FLAGS.seeds]
    methods = list(dict.fromkeys(FLAGS.methods))
    if not FLAGS.report_only:
        grid.run_grid(config, methods, seeds, settings)
    description = (DATASETS[config.dataset].description if config.dataset in DATASETS
                   else config.dataset)
    title = (f"{description}, imbalance ratio {config.imbalance_ratio:g}, student "
             f"{config.student} (width {config.width_multiplier:g}, {config.student_resolution} "
             f"px), distill_epochs={config.distill_epochs}; seeds {', '.join(map(str, seeds))}.")
    out_dir = FLAGS.report_dir or os.path.join(config.workdir, "report")
    results = report.write_report(config.workdir, methods, seeds, out_dir, title)
    print("\n" + results["markdown"] + f"\n\nreport: {out_dir}", flush=True)


def main(argv):
    explicit_workdir = FLAGS["workdir"].present  # before the preset fills it in
    return app_flags.run_main(argv, lambda: run(explicit_workdir))


if __name__ == "__main__":
    define_flags()
    app.run(main)
