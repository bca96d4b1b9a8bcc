"""The experiment grid: every (method, seed) in its own folder, resumable.

    <workdir>/seed_<s>/                  the seed's shared teacher stages (run.json: their settings)
      teacher/ calibration/ evaluation/  stage 0, stage 1 and the teacher's report
      calibration_<R>px/ evaluation_<R>px/   single-resolution teacher, when a method needs it
      methods/<method>/                  its student stage(s), evaluation/ (its done marker),
                                         run.json (its settings), tensorboard/

A finished (method, seed) is skipped without loading anything; an unfinished one resumes
stage by stage (``candle_tf/workdir.py``). The teacher stages are run once per seed and
shared by every method that distils. Nothing here reads the test split: every student is
kept at the epoch ``--select`` picks (best_val: the highest balanced accuracy on the
validation split; last: the last epoch), the same rule for every method.
"""

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Sequence, Tuple

import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.experiments.methods import (METHODS, check_methods, distillation_config,
                                           single_resolution)
from candle_tf.experiments.stages import (evaluate_student, evaluate_teacher,
                                          retrain_classifier, train_label_student)
from candle_tf.stages import calibration, distillation, teacher
from candle_tf.train import check_config
from candle_tf.workdir import Workdir
from trainers.baselines import BaselineSettings

EVALUATION = "evaluation"


@dataclass(frozen=True)
class RecordedSettings:
    """Settings for ``Workdir.record_run``, which refuses to resume a folder with others."""

    values: dict

    def result_settings(self) -> dict:
        return self.values


def teacher_settings(config: RunConfig) -> dict:
    """The settings the teacher stages depend on: the RunConfig fields before the student's
    (data, stage 0, stage 1)."""
    names = [spec.name for spec in dataclasses.fields(RunConfig)]
    kept = names[:names.index("student")]
    return {name: value for name, value in config.result_settings().items() if name in kept}


def seed_dir(root: str, seed: int) -> str:
    return os.path.join(root, f"seed_{seed}")


def method_dir(root: str, seed: int, method: str) -> str:
    return os.path.join(seed_dir(root, seed), "methods", method)


def stage_result_path(directory: str, stage: str) -> str:
    return os.path.join(directory, stage, "done.json")


class SeedGrid:
    """The methods of one seed. The data set is loaded and the teacher trained only when a
    method still has work to do."""

    def __init__(self, config: RunConfig, settings: BaselineSettings):
        self.config, self.settings = config, settings
        self.workdir = Workdir(config.workdir)
        self._dataset = None
        self._teacher_recorded = False

    @property
    def dataset(self) -> LongTailedDataset:
        if self._dataset is None:
            self._dataset = builders.dataset(self.config)
        return self._dataset

    def method_dir(self, name: str) -> str:
        return os.path.join(self.workdir.path, "methods", name)

    def is_done(self, name: str) -> bool:
        return os.path.exists(stage_result_path(self.method_dir(name), EVALUATION))

    def seed_randomness(self) -> None:
        """Same seed before every training stage, so a result does not depend on the order."""
        tf.keras.utils.set_random_seed(self.config.seed)

    def teacher(self, single: bool) -> Tuple[RunConfig, str]:
        """The config and weights of the calibrated teacher (multi- or single-resolution);
        trains and evaluates it the first time."""
        if not self._teacher_recorded:
            self.workdir.record_run(RecordedSettings(teacher_settings(self.config)))
            self._teacher_recorded = True
        config, suffix = self.config, ""
        if single:
            config = dataclasses.replace(config, resolutions=single_resolution(config.resolutions))
            suffix = f"_{config.resolutions[0]}px"
        board = os.path.join(self.workdir.path, "tensorboard")
        self.seed_randomness()
        encoder = self.workdir.run_stage(0, "teacher", lambda d: teacher.run(
            config, self.dataset, d, os.path.join(board, "teacher")))
        self.seed_randomness()
        stage = "calibration" + suffix
        calibrated = self.workdir.run_stage(1, stage, lambda d: calibration.run(
            config, self.dataset, encoder["encoder"], d, os.path.join(board, stage)))
        self.workdir.run_stage(3, EVALUATION + suffix, lambda d: evaluate_teacher(
            config, self.dataset, calibrated["teacher"]))
        return config, calibrated["teacher"]

    def run_method(self, name: str) -> dict:
        """Runs (or resumes) one method and returns its evaluation."""
        method = METHODS[name]
        workdir = Workdir(self.method_dir(name))
        config = dataclasses.replace(self.config, workdir=workdir.path)
        board = lambda stage: os.path.join(workdir.path, "tensorboard", stage)  # noqa: E731
        if method.distills:
            teacher_config, teacher_path = self.teacher(method.single_resolution)
            config = distillation_config(name, dataclasses.replace(
                teacher_config, workdir=workdir.path), self.settings)
            workdir.record_run(config)
            self.seed_randomness()
            student = workdir.run_stage(2, "distillation", lambda d: distillation.run(
                config, self.dataset, teacher_path, d, board("distillation")))
        else:
            workdir.record_run(RecordedSettings({**config.result_settings(),
                                                 **dataclasses.asdict(self.settings)}))
            self.seed_randomness()
            student = workdir.run_stage(2, "student", lambda d: train_label_student(
                name, config, self.dataset, self.settings, d, board("student")))
            if name == "mislas":
                self.seed_randomness()
                student = workdir.run_stage(2, "classifier", lambda d: retrain_classifier(
                    config, self.dataset, student["student"], self.settings.mislas_lr, d,
                    board("classifier")))
        return workdir.run_stage(3, EVALUATION, lambda d: evaluate_student(
            config, self.dataset, student["student"]))


def run_grid(config: RunConfig, methods: Sequence[str], seeds: Sequence[int],
             settings: BaselineSettings) -> None:
    """Runs every method for every seed (seed by seed) under ``config.workdir``."""
    check_config(config)
    check_methods(methods, config.resolutions)
    if config.strategy != "default":
        raise ValueError(f"--strategy={config.strategy}: the experiment grid trains on one "
                         "device; distribute single runs with python -m candle_tf.train.")
    for seed in seeds:
        grid = SeedGrid(dataclasses.replace(config, seed=seed,
                                            workdir=seed_dir(config.workdir, seed)), settings)
        for name in methods:
            if grid.is_done(name):
                print(f"#### seed {seed}, {name}: already done, skipped", flush=True)
                continue
            print(f"\n#### seed {seed}, {name}: {METHODS[name].description}", flush=True)
            start = time.time()
            grid.run_method(name)
            print(f"#### seed {seed}, {name}: done in {time.time() - start:.0f} s", flush=True)
