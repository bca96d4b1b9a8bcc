"""The methods of the experiment grid: label-only baselines, plain KD, CANDLE and its ablations.

Label-only methods are trained by ``trainers.baselines``; every other method is a
``DistillationTrainer`` run (stage 2 of CANDLE) whose RunConfig this module derives.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

from candle_tf.config import RunConfig
from candle_tf.models.teacher import reference_view
from trainers.baselines import BaselineSettings

CANDLE = "candle"
CANDLE_FINAL = "candle_final"  # fixed_lambda: the final lambda of the same seed's CANDLE run


@dataclass(frozen=True)
class Method:
    """One row of the table.

    ``fixed_lambda``: None (the balancer), a number, or ``CANDLE_FINAL``.
    ``label_term``: adds the ground-truth CE (``kd_ce_weight``), for methods in which nothing
    else would train towards the labels. ``single_resolution``: the teacher calibrated at
    the reference resolution only.
    """

    description: str
    distills: bool = True
    fixed_lambda: Union[None, float, str] = None
    label_term: bool = False
    single_resolution: bool = False


METHODS = {
    "ce": Method("Cross-entropy", distills=False),
    "cb": Method("Class-balanced re-weighting, effective number (Cui et al. 2019)",
                 distills=False),
    "balanced_softmax": Method("Balanced Softmax (Ren et al. 2020)", distills=False),
    "ldam_drw": Method("LDAM loss + deferred re-weighting (Cao et al. 2019)", distills=False),
    "logit_adjusted": Method("Logit-adjusted loss (Menon et al. 2021)", distills=False),
    "mislas": Method("MiSLAS: mixup, then classifier re-training with label-aware smoothing + "
                     "LWS (Zhong et al. 2021)", distills=False),
    "kd": Method("Plain KD from the calibrated teacher: KL + label CE, fixed lambda = 1 "
                 "(no feature term, no balancer)", fixed_lambda=1.0, label_term=True),
    CANDLE: Method("CANDLE: lambda KL + (1 - lambda) FS, adversarial balancer, multi-resolution "
                   "teacher"),
    "candle_lambda_half": Method("CANDLE, lambda fixed at 0.5 (no balancer)", fixed_lambda=0.5),
    "candle_lambda_final": Method("CANDLE, lambda fixed at the balancer's final value of the "
                                  "same seed's CANDLE run", fixed_lambda=CANDLE_FINAL),
    "candle_single_resolution": Method("CANDLE with a single-resolution calibrated teacher",
                                       single_resolution=True),
    "candle_no_feature": Method("CANDLE without the feature term (lambda = 1: KL only)",
                                fixed_lambda=1.0),
    "candle_no_kl": Method("CANDLE without the KL term (lambda = 0: FS, + label CE to train "
                           "the head)", fixed_lambda=0.0, label_term=True),
}


def is_baseline(name: str) -> bool:
    """A method CANDLE is compared against: not CANDLE nor one of its ablations."""
    return not name.startswith(CANDLE)


def check_methods(names, resolutions) -> None:
    """Rejects unknown names, and single-resolution ablations of a single-resolution run."""
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise ValueError(f"Unknown --methods {', '.join(unknown)}. Known: "
                         f"{', '.join(METHODS)}.")
    if len(resolutions) < 2 and any(METHODS[n].single_resolution for n in names):
        raise ValueError(
            f"candle_single_resolution compares against CANDLE's multi-resolution teacher, "
            f"but --resolutions={','.join(map(str, resolutions))} is one size: give two or "
            f"more, e.g. --resolutions=96,64,32.")


def single_resolution(resolutions) -> tuple:
    """The reference (median) resolution: the one the encoder was pretrained at."""
    return (resolutions[reference_view(resolutions)],)


def distillation_config(name: str, config: RunConfig, settings: BaselineSettings,
                        candle_final_lambda: Optional[float] = None) -> RunConfig:
    """The RunConfig of distillation method ``name`` derived from CANDLE's ``config``."""
    method = METHODS[name]
    changes = {}
    if method.fixed_lambda == CANDLE_FINAL:
        if candle_final_lambda is None:
            raise ValueError(f"{name} needs the final lambda of the CANDLE run.")
        changes["fixed_lambda"] = float(candle_final_lambda)
    elif method.fixed_lambda is not None:
        changes["fixed_lambda"] = float(method.fixed_lambda)
    if method.label_term:
        changes["ce_weight"] = settings.kd_ce_weight
    if method.single_resolution:
        changes["resolutions"] = single_resolution(config.resolutions)
    return dataclasses.replace(config, **changes)
