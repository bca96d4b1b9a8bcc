"""``python -m candle_tf.tune``: a Keras Tuner search over the distillation (stage 2).

  python -m candle_tf.tune --dataset=NAME --tuner=random|bayesian|hyperband --max_trials=N

Every flag of ``candle_tf.train`` applies and fixes what is not searched. Stages 0-1 run
once in ``--workdir`` (or are reused from a train run with the same flags and work dir),
and the calibrated teacher is built once and shared by every trial. A trial builds the
DistillationTrainer of the flags' RunConfig with its own values of the search space
(``candle_tf/search_space.py``), trains it for ``--distill_epochs`` (Hyperband: its own
budget, up to that) and is scored by its balanced accuracy on the validation split at
the epoch ``--select`` keeps, as ``candle_tf.train`` would (best_val: its best epoch, whose
weights Keras Tuner checkpoints; last: its last epoch); the test split is never read. In
``<workdir>/tune/<tuner>/`` (one folder per --tuner):

  oracle.json, trial_*/   Keras Tuner's project (re-running the command resumes the search)
  summary.txt             the tuner's results summary
  trials.csv              one row per trial: id, status, score, the searched values
  best.cfg                the best trial's settings: python -m candle_tf.train --flagfile=...
"""

import contextlib
import csv
import dataclasses
import io
import os

import keras_tuner as kt
import tensorflow as tf
from absl import flags

from candle_tf import app_flags, builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import steps_per_epoch
from candle_tf.fitting import StopOnNonFinite, stage_inputs
from candle_tf.pipeline import Run
from candle_tf.search_space import trial_config

FLAGS = flags.FLAGS
OBJECTIVE = kt.Objective("val_balanced_accuracy", direction="max")
TUNERS = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization,
          "hyperband": kt.Hyperband}
TUNE_DIR = "tune"
BEST_FLAGFILE = "best.cfg"


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    """The RunConfig flags and the app's own."""
    app_flags.define_flags(flag_values)
    flags.adopt_module_key_flags(app_flags, flag_values=flag_values)  # --help lists them
    flags.DEFINE_enum("tuner", "random", list(TUNERS), "Keras Tuner search algorithm.",
                      flag_values=flag_values)
    flags.DEFINE_integer("max_trials", 10, "Trials to run (Hyperband: at most this many; "
                         "its brackets follow from --distill_epochs, the most epochs of a "
                         "trial).", lower_bound=1, flag_values=flag_values)


class DistillationHyperModel(kt.HyperModel):
    """A trial's model: the compiled DistillationTrainer of the trial's RunConfig,
    distilling the one shared calibrated teacher."""

    def __init__(self, config: RunConfig, dataset: LongTailedDataset,
                 teacher: tf.keras.Model):
        super().__init__(name="candle_distillation")
        self.config, self.dataset, self.teacher = config, dataset, teacher
        self.steps_per_epoch = steps_per_epoch(len(dataset.train), config.distill_batch_size)

    def build(self, hp: kt.HyperParameters) -> tf.keras.Model:
        config = trial_config(hp, self.config)
        return builders.distillation_trainer(config, self.dataset, self.teacher,
                                             self.steps_per_epoch * config.distill_epochs)

    def fit(self, hp: kt.HyperParameters, model: tf.keras.Model, *args, **kwargs):
        """The History (Keras Tuner scores it by its best epoch: ``--select=best_val``), or
        with ``--select=last`` the last epoch's score."""
        history = model.fit(*args, **kwargs)
        if self.config.select == "last":
            return {OBJECTIVE.name: float(history.history[OBJECTIVE.name][-1])}
        return history


def make_tuner(kind: str, hypermodel: kt.HyperModel, config: RunConfig, max_trials: int,
               directory: str, strategy: tf.distribute.Strategy) -> kt.Tuner:
    """The ``kind`` tuner, maximising the validation balanced accuracy, in
    ``<directory>/<kind>`` (an existing search there is resumed)."""
    common = dict(objective=OBJECTIVE, seed=config.seed, directory=directory,
                  project_name=kind, distribution_strategy=strategy)
    if kind != "hyperband":
        return TUNERS[kind](hypermodel, max_trials=max_trials, **common)
    tuner = kt.Hyperband(hypermodel, max_epochs=config.distill_epochs, **common)
    tuner.oracle.max_trials = max_trials  # the oracle stops creating trials past it
    return tuner


def search(config: RunConfig, kind: str, max_trials: int) -> str:
    """Runs (or resumes) the search; returns the path of the best trial's flagfile."""
    if kind not in TUNERS:
        raise ValueError(f"Unknown --tuner={kind!r}. Use one of {', '.join(TUNERS)}.")
    if max_trials < 1:
        raise ValueError(f"--max_trials={max_trials}: give at least 1.")
    if config.strategy == "multi_worker":
        raise ValueError(
            "--strategy=multi_worker: the tuner runs trials one process at a time. Use "
            "--strategy=mirrored on each machine, and Keras Tuner's own distributed tuning "
            "(KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT) to spread "
            "trials over machines.")
    run = Run(config)
    hypermodel = DistillationHyperModel(config, run.dataset, run.calibrated_teacher())
    tuner = make_tuner(kind, hypermodel, config, max_trials,
                       os.path.join(run.workdir.path, TUNE_DIR), run.strategy)
    training, validation, steps = stage_inputs(
        run.dataset, config, config.view_sizes, config.distill_batch_size,
        validation_views=config.student_view_size)
    tuner.search(training, validation_data=validation, epochs=config.distill_epochs,
                 steps_per_epoch=steps, verbose=config.verbose,
                 callbacks=[StopOnNonFinite("distillation trial"),
                            tf.keras.callbacks.TensorBoard(run.tensorboard_dir(TUNE_DIR),
                                                           update_freq="epoch",
                                                           profile_batch=0)])
    return write_results(tuner, config)


def write_results(tuner: kt.Tuner, config: RunConfig) -> str:
    """summary.txt, trials.csv and best.cfg in the tuner's project folder; returns
    best.cfg's path (whose --workdir is the folder's best_run/)."""
    out_dir = tuner.project_dir
    trials = sorted(tuner.oracle.trials.values(), key=lambda trial: trial.trial_id)
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        tuner.results_summary(num_trials=len(trials))
    with open(os.path.join(out_dir, "summary.txt"), "w") as handle:
        handle.write(summary.getvalue())
    names = [hp.name for hp in tuner.oracle.hyperparameters.space]
    with open(os.path.join(out_dir, "trials.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial_id", "status", OBJECTIVE.name, *names])
        for trial in trials:
            values = trial.hyperparameters.values
            writer.writerow([trial.trial_id, trial.status, trial.score,
                             *(values.get(name, "") for name in names)])
    best = [trial for trial in tuner.oracle.get_best_trials(1) if trial.score is not None]
    if not best:
        raise RuntimeError(f"No trial of the search in {out_dir} finished; see "
                           f"{os.path.join(out_dir, 'summary.txt')} and the log above.")
    best_config = dataclasses.replace(trial_config(best[0].hyperparameters, config),
                                      workdir=os.path.join(out_dir, "best_run"))
    path = os.path.join(out_dir, BEST_FLAGFILE)
    header = [f"# Best of {len(trials)} trials ({tuner.oracle.__class__.__name__}): trial "
              f"{best[0].trial_id}, {OBJECTIVE.name} = {best[0].score:.4f}.",
              f"# Train it: python -m candle_tf.train --flagfile={path}"]
    with open(path, "w") as handle:
        handle.write("\n".join(header + app_flags.flagfile_lines(best_config)) + "\n")
    return path


def work(flag_values: flags.FlagValues = FLAGS) -> str:
    """Runs the flags' search; returns the best trial's flagfile."""
    config = app_flags.config_from_command_line(flag_values)
    path = search(config, flag_values.tuner, flag_values.max_trials)
    print(f"\nBest configuration: {path}\nTrain it: python -m candle_tf.train "
          f"--flagfile={path}", flush=True)
    return path


if __name__ == "__main__":
    app_flags.run_app(define_flags, work)
