"""``python -m candle_tf.experiments --dataset=NAME --methods=... --seeds=0,1,2``

Runs every method for every seed on the same binary student, data and schedule, resumably
(each (method, seed) in ``<workdir>/seed_<s>/methods/<method>/``; the teacher stages of a
seed are shared), then writes ``results.md``, ``results.json`` and PNG plots to
``--report_dir``. Every flag of ``candle_tf.train`` applies (sizes: --distill_epochs,
--images_per_class, --width_multiplier, ...) except --seed, which --seeds replaces; with no
--workdir the grid goes to ``runs/experiments/<dataset>``.
"""

import os

from absl import flags

from candle_tf import app_flags
from candle_tf.data.registry import DATASETS
from candle_tf.experiments import grid, report
from candle_tf.experiments.methods import METHODS

FLAGS = flags.FLAGS


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    """The RunConfig flags and the harness's own."""
    app_flags.define_flags(flag_values)
    flags.adopt_module_key_flags(app_flags, flag_values=flag_values)  # --help lists them
    flags.DEFINE_list("methods", list(METHODS), "Methods to run, in this order: "
                      + ", ".join(METHODS) + ".", flag_values=flag_values)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds; each draws its own LT split and trains "
                      "its own teacher and students.", flag_values=flag_values)
    flags.DEFINE_string("report_dir", "", "Where the table and plots go (default "
                        "<workdir>/report).", flag_values=flag_values)
    flags.DEFINE_bool("report_only", False, "Train nothing: write the report of what the "
                      "grid under --workdir finished for these methods and seeds (methods "
                      "run on fewer seeds show their own seed count).", flag_values=flag_values)


def work(flag_values: flags.FlagValues = FLAGS) -> dict:
    """Runs the grid the flags describe, then writes and prints its report."""
    explicit_workdir = flag_values["workdir"].present  # before the preset fills it in
    config = app_flags.config_from_command_line(flag_values)
    if not explicit_workdir:
        config = config.replace(workdir=os.path.join("runs", "experiments", config.dataset))
    if not all(seed.isdigit() for seed in flag_values.seeds):
        raise ValueError(f"--seeds={','.join(flag_values.seeds)}: give whole numbers, e.g. "
                         "0,1,2.")
    seeds = [int(seed) for seed in flag_values.seeds]
    methods = list(dict.fromkeys(flag_values.methods))
    if not flag_values.report_only:
        grid.run_grid(config, methods, seeds)
    description = (DATASETS[config.dataset].description if config.dataset in DATASETS
                   else config.dataset)
    title = (f"{description}, imbalance ratio {config.imbalance_ratio:g}, student "
             f"{config.student} (width {config.width_multiplier:g}, {config.student_resolution} "
             f"px), distill_epochs={config.distill_epochs}; seeds {', '.join(map(str, seeds))}.")
    out_dir = flag_values.report_dir or os.path.join(config.workdir, "report")
    results = report.write_report(config.workdir, methods, seeds, out_dir, title)
    print("\n" + results["markdown"] + f"\n\nreport: {out_dir}", flush=True)
    return results


if __name__ == "__main__":
    app_flags.run_app(define_flags, work)
