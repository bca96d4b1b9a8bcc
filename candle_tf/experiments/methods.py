"""The methods of the experiment grid: label-only baselines, plain KD, CANDLE and its ablations.

Label-only methods are trained by ``candle_tf/stages/baseline.py`` (a ``LabelTrainer``);
every other method is a ``DistillationTrainer`` run (stage 2 of CANDLE) whose RunConfig
this module derives.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from candle_tf.config import RunConfig
from candle_tf.models.teacher import reference_view
from trainers.distill import Objective

CANDLE = "candle"
# The authors' objective and sampling (METHOD.md): every distilling method starts from
# them, whatever the preset or the flags chose as the run's default.
OBJECTIVE_FIELDS = [spec.name for spec in dataclasses.fields(Objective)]
INSTANCE_SAMPLING = {"distill_sampling": "instance"}
AUTHORS = {**{name: getattr(Objective(), name) for name in OBJECTIVE_FIELDS},
           **INSTANCE_SAMPLING}
# The earlier reading of the method: the balancer weighs L_KL against L_FS on the feature
# maps; no balanced KL, no head pass.
EARLIER_READING = {"balance": "kl_fs", "head_pass": False, "feature_target": "map",
                   "kl_reduction": "batch"}


@dataclass(frozen=True)
class Method:
    """One row of the table.

    ``changes``: RunConfig settings that differ from CANDLE's (a label-only row: from
    ``baseline_config``'s instance sampling). ``label_loss``: adds a
    ground-truth term of this kind ("ce", "balanced_softmax") with weight
    ``kd_ce_weight``. ``single_resolution``: the teacher calibrated at the reference
    resolution only. ``adjusts``: this row is that method's student after post-hoc logit
    adjustment (``--posthoc_adjustment=validation``), not a student of its own.
    """

    description: str
    distills: bool = True
    changes: Dict[str, Any] = field(default_factory=dict)
    label_loss: Optional[str] = None
    single_resolution: bool = False
    adjusts: Optional[str] = None

    @property
    def balanced(self) -> bool:
        """Whether the adversarial balancer runs (its weights are worth plotting)."""
        return self.distills and Objective(**{
            name: value for name, value in {**AUTHORS, **self.changes}.items()
            if name in OBJECTIVE_FIELDS}).balanced


METHODS = {
    "ce": Method("Cross-entropy", distills=False),
    "cb": Method("Class-balanced re-weighting, effective number (Cui et al. 2019)",
                 distills=False),
    "balanced_softmax": Method("Balanced Softmax (Ren et al. 2020)", distills=False),
    "ldam_drw": Method("LDAM loss + deferred re-weighting (Cao et al. 2019)", distills=False),
    "logit_adjusted": Method("Logit-adjusted loss (Menon et al. 2021)", distills=False),
    "ce_cb_sampling": Method("Cross-entropy on class-balanced batches (class-balanced "
                             "sampling; the label-only control of candle_cb_sampling)",
                             distills=False, changes={"distill_sampling": "class_balanced"}),
    "mislas": Method("MiSLAS: mixup, then classifier re-training with label-aware smoothing + "
                     "LWS (Zhong et al. 2021)", distills=False),
    "kd": Method("Plain KD from the calibrated teacher: KL + label CE (no feature term, no "
                 "balanced KL, no balancer, no head pass)",
                 changes={**EARLIER_READING, "fixed_lambda": 1.0}, label_loss="ce"),
    CANDLE: Method("CANDLE as its authors' code: 0.5 FS(pooled) + 0.5 (w1 KL + w2 balanced KL), "
                   "w from the adversarial balancer, head pass"),
    "candle_no_balancer": Method("CANDLE, w fixed at 0.5 / 0.5 (no balancer)",
                                 changes={"fixed_lambda": 0.5}),
    "candle_no_balanced_kl": Method("CANDLE without the balanced KL (so no balancer): "
                                    "0.5 FS(pooled) + 0.5 KL, head pass",
                                    changes={"balanced_kl": "none"}),
    "candle_no_feature": Method("CANDLE without the feature term (fs_weight = 0)",
                                changes={"fs_weight": 0.0}),
    "candle_no_head_pass": Method("CANDLE without the head pass (one loss for the whole "
                                  "student)", changes={"head_pass": False}),
    "candle_kl_fs": Method("CANDLE as first read: lambda KL + (1 - lambda) FS(map), lambda "
                           "from the balancer, no balanced KL, no head pass",
                           changes=EARLIER_READING),
    "candle_single_resolution": Method("CANDLE with a single-resolution calibrated teacher",
                                       single_resolution=True),
    "candle_bs_label": Method("CANDLE + a Balanced Softmax label term on the student "
                              "(beyond the paper)", label_loss="balanced_softmax"),
    "candle_cb_sampling": Method("CANDLE without the balanced KL, on class-balanced "
                                 "batches: the distillation terms see every class equally "
                                 "often (beyond the paper)",
                                 changes={"balanced_kl": "none",
                                          "distill_sampling": "class_balanced"}),
    "candle_balanced_kl_both": Method("CANDLE with the balanced KL against the teacher's "
                                      "prior-adjusted logits too (beyond the paper)",
                                      changes={"balanced_kl": "both"}),
}

POSTHOC = "_posthoc"
# Every method again with post-hoc logit adjustment (tau chosen on validation): the same
# student, so these rows cost one validation and one test pass each.
METHODS.update({
    name + POSTHOC: dataclasses.replace(
        method, adjusts=name,
        description=f"{name} + post-hoc logit adjustment, tau chosen on validation")
    for name, method in list(METHODS.items())})


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


def baseline_config(name: str, config: RunConfig) -> RunConfig:
    """The RunConfig of label-only method ``name``: instance sampling unless it says
    otherwise, whatever the preset or the flags chose for distillation."""
    return dataclasses.replace(config, **{**INSTANCE_SAMPLING, **METHODS[name].changes})


def distillation_config(name: str, config: RunConfig) -> RunConfig:
    """The RunConfig of distillation method ``name`` derived from CANDLE's ``config``."""
    method = METHODS[name]
    changes = {**AUTHORS, **method.changes}
    if method.label_loss:
        changes.update(label_loss=method.label_loss, ce_weight=config.kd_ce_weight)
    if method.single_resolution:
        changes["resolutions"] = single_resolution(config.resolutions)
    return dataclasses.replace(config, **changes)
