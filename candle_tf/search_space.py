"""The search space of ``python -m candle_tf.tune``, declared once.

Each entry maps a RunConfig field to how a trial draws its value from Keras Tuner's
``HyperParameters``. To search another setting, add one entry; a trial's RunConfig is the
app's with these fields replaced, so every searched value reaches the run through the same
code as a flag does.
"""

import dataclasses
from typing import Callable, Dict

import keras_tuner as kt

from candle_tf.config import RunConfig

SEARCH_SPACE: Dict[str, Callable[[kt.HyperParameters], object]] = {
    "student_lr": lambda hp: hp.Float("student_lr", 1e-3, 5e-2, sampling="log"),
    "temperature": lambda hp: hp.Float("temperature", 1.0, 8.0, sampling="log"),
    "balancer_lr": lambda hp: hp.Float("balancer_lr", 1e-4, 1e-2, sampling="log"),
    # Two hidden layers of one width, as in the paper's [3, 8, 8, 2].
    "balancer_hidden": lambda hp: (hp.Choice("balancer_width", [4, 8, 16, 32]),) * 2,
    "lambda_clamp": lambda hp: hp.Choice("lambda_clamp", [0.0, 0.05, 0.1, 0.2]),
    "fs_weight": lambda hp: hp.Choice("fs_weight", [0.25, 0.5, 0.75]),
    "width_multiplier": lambda hp: hp.Choice("width_multiplier", [0.25, 0.5, 1.0]),
}


def trial_config(hp: kt.HyperParameters, base: RunConfig) -> RunConfig:
    """``base`` with every searched field drawn from ``hp``."""
    return dataclasses.replace(base, **{name: draw(hp) for name, draw in SEARCH_SPACE.items()})
