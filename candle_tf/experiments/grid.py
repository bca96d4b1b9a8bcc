"""The experiment grid: every (method, seed) in its own folder, resumable.

    <workdir>/seed_<s>/                  the seed's shared teacher stages (run.json: their settings)
      teacher/ calibration/ evaluation/  stage 0, stage 1 and the teacher's report
      calibration_<R>px/ evaluation_<R>px/   single-resolution teacher, when a method needs it
      methods/<method>/                  its student stage(s), evaluation/ (its done marker),
                                         run.json (its settings), tensorboard/
      methods/<method>_posthoc/          adjustment/ (of <method>'s student), evaluation/

A finished (method, seed) is skipped without loading anything; an unfinished one resumes
stage by stage (``candle_tf/pipeline.py``). The teacher stages are run once per seed and
shared by every method that distils. Nothing here reads the test split: every student is
kept at the epoch ``--select`` picks (best_val: the highest balanced accuracy on the
validation split; last: the last epoch), the same rule for every method.
"""

import os
import time
from typing import Sequence

import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.experiments.methods import (METHODS, baseline_config, check_methods,
                                           distillation_config, single_resolution)
from candle_tf.pipeline import Run, check

EVALUATION = "evaluation"


def seed_dir(root: str, seed: int) -> str:
    return os.path.join(root, f"seed_{seed}")


def method_dir(root: str, seed: int, method: str) -> str:
    return os.path.join(seed_dir(root, seed), "methods", method)


def stage_result_path(directory: str, stage: str) -> str:
    return os.path.join(directory, stage, "done.json")


class SeedGrid:
    """The methods of one seed: each a ``Run`` in its own folder, whose teacher stages live
    in the seed's folder. The data set is loaded and the teacher trained only when a method
    still has work to do."""

    def __init__(self, config: RunConfig):
        self.config = config
        self._dataset = None

    @property
    def dataset(self) -> LongTailedDataset:
        if self._dataset is None:
            self._dataset = builders.dataset(self.config)
        return self._dataset

    def method_dir(self, name: str) -> str:
        return os.path.join(self.config.workdir, "methods", name)

    def is_done(self, name: str) -> bool:
        return os.path.exists(stage_result_path(self.method_dir(name), EVALUATION))

    def run_method(self, name: str) -> dict:
        """Runs (or resumes) one method and returns its evaluation."""
        method = METHODS[name]
        run, student = self.train(method.adjusts or name)
        if method.adjusts:
            run = Run(run.config.replace(workdir=self.method_dir(name),
                                         posthoc_adjustment="validation"),
                      dataset=self.dataset, teacher_dir=self.config.workdir, checked=True)
            student = run.adjust(student)
        return run.evaluate_student(student)

    def train(self, name: str):
        """The ``Run`` of method ``name`` and its trained student (trained here unless
        done). The same seed is set before every training stage, so a result does not
        depend on the order."""
        method = METHODS[name]
        config = self.config.replace(workdir=self.method_dir(name))
        suffix = ""
        if method.single_resolution:
            config = config.replace(resolutions=single_resolution(config.resolutions))
            suffix = f"_{config.resolutions[0]}px"
        config = (distillation_config if method.distills else baseline_config)(name, config)
        run = Run(config, dataset=self.dataset, teacher_dir=self.config.workdir,
                  calibration_suffix=suffix, checked=True)
        if method.distills:
            tf.keras.utils.set_random_seed(config.seed)
            run.teacher()
            tf.keras.utils.set_random_seed(config.seed)
            run.evaluate_teacher()
            tf.keras.utils.set_random_seed(config.seed)
            return run, run.distill()
        tf.keras.utils.set_random_seed(config.seed)
        return run, run.train_baseline(name)


def run_grid(config: RunConfig, methods: Sequence[str], seeds: Sequence[int]) -> None:
    """Runs every method for every seed (seed by seed) under ``config.workdir``."""
    check(config)
    check_methods(methods, config.resolutions)
    if config.strategy != "default":
        raise ValueError(f"--strategy={config.strategy}: the experiment grid trains on one "
                         "device; distribute single runs with python -m candle_tf.train.")
    for seed in seeds:
        grid = SeedGrid(config.replace(seed=seed, workdir=seed_dir(config.workdir, seed)))
        for name in methods:
            if grid.is_done(name):
                print(f"#### seed {seed}, {name}: already done, skipped", flush=True)
                continue
            print(f"\n#### seed {seed}, {name}: {METHODS[name].description}", flush=True)
            start = time.time()
            grid.run_method(name)
            print(f"#### seed {seed}, {name}: done in {time.time() - start:.0f} s", flush=True)
