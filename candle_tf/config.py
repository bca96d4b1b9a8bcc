"""RunConfig: every setting of a CANDLE run, declared once.

Each field carries its default (METHOD.md's value, or ours where METHOD.md says [recon]),
its help text, the stage it belongs to, its allowed values or bounds, and whether it
changes the result. The apps' flags (``candle_tf/app_flags.py``), ``--help``, the checks
run before any work (``check_settings``) and the resume check of the work dir
(``candle_tf/workdir.py``) all derive from these declarations.

>>> config = RunConfig(distill_epochs=2)
>>> setting_of("distill_epochs").stage
'student'
>>> check_settings(config.replace(temperature=0))
Traceback (most recent call last):
...
ValueError: --temperature=0: must be > 0 (KL temperature tau.)
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

from candle_tf.data.registry import registered_names

# The stages a setting can belong to, in run order. A setting of stage S changes the
# artefacts of S and of every later stage; "data" settings change everything, "run" ones
# nothing (where and how verbosely to run).
STAGES = ("data", "teacher", "calibration", "student", "evaluation", "export", "run")

AUGMENTATIONS = ("crop_flip", "rrc_flip_jitter", "none")
CALIBRATION_BN = ("adapt", "frozen")
BALANCES = ("kl_pair", "kl_fs")
BALANCED_KL = ("student", "both", "none")
FEATURE_TARGETS = ("pooled", "map")
KL_REDUCTIONS = ("classes", "batch")
LABEL_LOSSES = ("ce", "balanced_softmax")
SELECT_CHOICES = ("best_val", "last")
DISTILL_SAMPLINGS = ("instance", "class_balanced")
POSTHOC_ADJUSTMENTS = ("none", "validation")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PIPELINE_STAGES = ("teacher", "calibration", "distillation", "evaluation", "export")
MIN_TEACHER_VIEW = 32  # keras.applications' smallest input; MobileNetV2 fails on 16 px


@dataclass(frozen=True)
class Setting:
    """What is declared about one RunConfig field (its dataclass metadata)."""

    help: str
    stage: str
    choices: Optional[Tuple[str, ...]] = None
    low: Optional[float] = None           # smallest allowed value (or element of a tuple)
    high: Optional[float] = None          # largest allowed value
    low_open: bool = False                # low itself not allowed (> rather than >=)
    high_open: bool = False               # high itself not allowed

    @property
    def result(self) -> bool:
        """Whether the setting changes the result (is compared when a run resumes)."""
        return self.stage != "run"

    def bounds_text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"> {self.low:g}" if self.low_open else f">= {self.low:g}")
        if self.high is not None:
            parts.append(f"< {self.high:g}" if self.high_open else f"<= {self.high:g}")
        return " and ".join(parts)


def setting(default: Any, help: str, stage: str, **bounds) -> Any:  # noqa: A002
    """A dataclass field with its ``Setting`` as metadata."""
    return dataclasses.field(default=default,
                             metadata={"setting": Setting(help, stage, **bounds)})


@dataclass(frozen=True)
class RunConfig:
    """One CANDLE run. Learning rates marked "per 128" are scaled by batch / 128."""

    # Data.
    dataset: str = setting(
        "fashion_mnist_lt", f"Data set: {registered_names()} (README: \"The paper's "
        "benchmarks and your own data\"); a registered name loads its preset "
        "flags/NAME.cfg.", "data")
    data_dir: str = setting(
        "", "Where the data set's files are: for places_lt, imagenet_lt, inat2018 and list:, "
        "the folder the lists' image paths start from (the lists are read from here as "
        "NAME.txt or NAME.txt.gz, else from the copy shipped with candle_tf); TFDS's "
        "data_dir; fashion_mnist_lt's IDX folder; empty: the data set's default place. "
        "Alias --data_root.", "data")
    imbalance_ratio: float = setting(
        100.0, "n_max / n_min of the long-tailed training split.", "data", low=1)
    images_per_class: int = setting(
        0, "Cap every split at this many images per class, for smoke runs (0 = all). "
        "Derived sets: drawn with --seed before the LT draw (also the teacher's pretraining "
        "split unless --pretrain_images_per_class). List files: the first N listed of each "
        "class, so only those must exist. Many/medium/few stay those of the full training "
        "list.", "data", low=0)
    val_per_class: int = setting(
        20, "Validation images per class, taken (seeded) from the balanced test split of a "
        "derived LT set; the test figures use the rest. Natively LT sets (list files) use "
        "their own val split.", "data", low=1)
    seed: int = setting(
        0, "Seeds Python, NumPy and TF; the LT subsample depends only on it.", "data", low=0)
    augmentation: str = setting(
        "crop_flip", "Training augmentation: crop_flip (small images), rrc_flip_jitter "
        "(natural images), none.", "data", choices=AUGMENTATIONS)
    eval_crop_fraction: float = setting(
        1.0, "Evaluation: resize to size/fraction, center-crop size (1 = plain resize; "
        "0.875 = resize 256 crop 224).", "data", low=0, high=1, low_open=True)
    # Stage 0: the pretrained teacher.
    teacher: str = setting(
        "resnet152", "keras.applications backbone of the FP teacher, e.g. resnet152, "
        "efficientnet_v2_m, mobilenet_v2_035.", "teacher")
    teacher_weights: str = setting(
        "imagenet", "imagenet (Keras download), shipped (an encoder pretrained on the data "
        "set's balanced source and shipped with candle_tf, checksum checked), pretrain "
        "(train the backbone on the balanced source split now: the offline stand-in), or "
        "PATH to weights (offline machines: write them with python -m "
        "candle_tf.teacher_weights).", "teacher")
    pretrain_epochs: int = setting(
        3, "Epochs of teacher pretraining when --teacher_weights=pretrain.", "teacher", low=1)
    pretrain_images_per_class: int = setting(
        0, "Cap the balanced source split the teacher is pretrained on "
        "(--teacher_weights=pretrain) at this many images per class (0 = the "
        "--images_per_class cap).", "teacher", low=0)
    pretrain_batch_size: int = setting(
        128, "Batch size of teacher pretraining.", "teacher", low=1)
    pretrain_lr: float = setting(
        1e-3, "Adam learning rate of teacher pretraining (cosine schedule).", "teacher",
        low=0, low_open=True)
    # Stage 1: calibration.
    resolutions: Tuple[int, ...] = setting(
        (224,), "Teacher view sizes for multi-resolution calibration (paper: 480,224,128); "
        "one value = single resolution.", "calibration", low=MIN_TEACHER_VIEW)
    calib_epochs: int = setting(
        10, "Calibration epochs (an epoch = LT train size / batch steps).", "calibration",
        low=1)
    calib_batch_size: int = setting(
        128, "Calibration batch size (global).", "calibration", low=1)
    calib_lr: float = setting(
        1e-3, "Calibration SGD learning rate per 128 images (scaled by batch/128).",
        "calibration", low=0, low_open=True)
    calib_momentum: float = setting(
        0.9, "Calibration SGD momentum.", "calibration", low=0, high=1, high_open=True)
    calib_weight_decay: float = setting(
        5e-4, "Calibration weight decay.", "calibration", low=0)
    calib_warmup_epochs: int = setting(
        5, "Linear warm-up epochs before the cosine decay of calibration.", "calibration",
        low=0)
    smoothing_head: float = setting(
        0.1, "Label-aware smoothing epsilon of the most frequent class (MiSLAS).",
        "calibration", low=0, high=1, high_open=True)
    smoothing_tail: float = setting(
        0.0, "Label-aware smoothing epsilon of the rarest class (MiSLAS).", "calibration",
        low=0, high=1, high_open=True)
    class_balanced: bool = setting(
        True, "Class-balanced sampling for calibration.", "calibration")
    calibration_bn: str = setting(
        "adapt", "Teacher encoder's batch-norm statistics during calibration: adapt (weights "
        "frozen, statistics follow the LT data; the authors' code) or frozen (the encoder "
        "runs in inference mode).", "calibration", choices=CALIBRATION_BN)
    # Stage 2: the student (distillation, or a baseline's label training).
    student: str = setting(
        "reactnet_a", "Binary student architecture (registry in "
        "candle_tf/models/students.py).", "student")
    student_resolution: int = setting(
        224, "Input size of the student (it sees one resolution).", "student", low=8)
    width_multiplier: float = setting(
        1.0, "Student channel multiplier (1 = ReActNet-A as published).", "student", low=0,
        low_open=True)
    stem_stride: int = setting(
        2, "Stride of the student's FP stem (1 for 28-64 px inputs).", "student", low=1)
    distill_epochs: int = setting(
        200, "Distillation epochs (and the epochs of the grid's label-only baselines).",
        "student", low=1)
    distill_batch_size: int = setting(
        128, "Distillation batch size (global).", "student", low=1)
    student_lr: float = setting(
        1e-2, "Student Adam learning rate per 128 images (cosine).", "student", low=0,
        low_open=True)
    distill_sampling: str = setting(
        "instance", "How stage 2 draws its training images: instance (the LT data as it is; "
        "the authors') or class_balanced (every class equally likely per draw, so the "
        "distillation terms see the tail classes as often as the head). The experiment "
        "grid's rows set their own (the *_cb_sampling rows class_balanced).", "student",
        choices=DISTILL_SAMPLINGS)
    temperature: float = setting(
        2.0, "KL temperature tau.", "student", low=0, low_open=True)
    balance: str = setting(
        "kl_pair", "What the adversarial balancer weighs: kl_pair (L_KL against the "
        "class-balanced L_KL^bal, with a fixed --fs_weight on L_FS; the authors' code) or "
        "kl_fs (L_KL against L_FS, no balanced KL: the earlier reading).", "student",
        choices=BALANCES)
    balanced_kl: str = setting(
        "student", "Class-balanced KL: student (log prior added to the student's logits; "
        "the authors' default), both (to the teacher's logits too), or none (no balanced "
        "KL: w = [1, 0], the balancer rests).", "student", choices=BALANCED_KL)
    fs_weight: float = setting(
        0.5, "Fixed weight of the feature term with --balance=kl_pair: L = w*L_FS + "
        "(1-w)*(w1*L_KL + w2*L_KL^bal) (0 = no feature term).", "student", low=0, high=1)
    head_pass: bool = setting(
        True, "Each step also trains the student's classifier alone with L_KL on features "
        "detached from the encoder (own Adam); the encoder's loss then does not move the "
        "classifier (--nohead_pass: one loss for all).", "student")
    feature_target: str = setting(
        "pooled", "Feature term on the pooled features (pooled; the paper's Fig. 1) or on "
        "the spatial feature maps (map).", "student", choices=FEATURE_TARGETS)
    kl_reduction: str = setting(
        "classes", "KL reduction: classes (mean over batch and classes, the authors') or "
        "batch (sum over classes, mean over the batch).", "student", choices=KL_REDUCTIONS)
    balancer_lr: float = setting(
        1e-3, "Balancer AB_phi Adam learning rate (cosine); it ascends the loss.", "student",
        low=0)
    balancer_hidden: Tuple[int, ...] = setting(
        (8, 8), "Hidden widths of the balancer MLP.", "student", low=1)
    lambda_clamp: float = setting(
        0.0, "Clamp the balancer's first weight into [c, 1 - c] so that neither term is "
        "switched off (0 = no clamp, the paper).", "student", low=0, high=0.5,
        high_open=True)
    label_loss: str = setting(
        "ce", "Ground-truth label term on the student, weighted by --ce_weight: ce or "
        "balanced_softmax (CE on logits + log prior).", "student", choices=LABEL_LOSSES)
    ce_weight: float = setting(
        0.0, "Weight of the label term (--label_loss) on the student (paper: 0).", "student",
        low=0)
    fixed_lambda: Optional[float] = setting(
        None, "Fix the balancer's first weight (lambda = w1; w2 = 1 - w1) and switch the "
        "balancer off (ablation).", "student", low=0, high=1)
    two_step: bool = setting(
        False, "ReActNet's two-step recipe: distil with binary activations and real weights, "
        "then with both binary from those weights (each step --distill_epochs).", "student")
    select: str = setting(
        "best_val", "Which epoch's student is kept: best_val (highest balanced accuracy on "
        "the validation split, checked after every epoch) or last. The test split is read "
        "once, at the end.", "student", choices=SELECT_CHOICES)
    # The grid's label-only baselines and plain KD (their papers' defaults).
    cb_beta: float = setting(
        0.9999, "Effective-number beta of class-balanced re-weighting and of DRW.", "student",
        low=0, high=1, high_open=True)
    ldam_max_margin: float = setting(
        0.5, "LDAM margin of the rarest class (margins follow n^-1/4).", "student", low=0)
    ldam_scale: float = setting(30.0, "LDAM logit scale s.", "student", low=0, low_open=True)
    drw_start: float = setting(
        0.8, "LDAM-DRW re-weights from this fraction of --distill_epochs on.", "student",
        low=0, high=1)
    logit_adjust_tau: float = setting(
        1.0, "tau of the logit-adjusted loss (1 = Balanced Softmax).", "student", low=0)
    mixup_alpha: float = setting(
        1.0, "Beta(alpha, alpha) of MiSLAS's stage-1 mixup.", "student", low=0,
        low_open=True)
    mislas_lr: float = setting(
        1e-3, "SGD learning rate per 128 images of MiSLAS's classifier re-training (its "
        "other settings: the calib_* flags).", "student", low=0, low_open=True)
    kd_ce_weight: float = setting(
        1.0, "Weight of the label term in plain KD and in candle_bs_label.", "student", low=0)
    # Stages 3-4: evaluation and export.
    eval_batch_size: int = setting(256, "Batch size for evaluation.", "evaluation", low=1)
    posthoc_adjustment: str = setting(
        "none", "After training, subtract tau * log(training class frequency) from the "
        "student's logits (post-hoc logit adjustment, Menon et al. 2021), folded into its "
        "classifier bias so the export carries it: none, or validation (tau in 0, 0.1, ..., 2 "
        "with the highest balanced accuracy on the validation split). Can be set on a run "
        "whose student is trained but not yet evaluated.", "evaluation",
        choices=POSTHOC_ADJUSTMENTS)
    parity_images: int = setting(
        1000, "Test images used to check the LCE interpreter against Keras.", "export", low=1)
    export_model_name: str = setting(
        "candle_student", "Model name in the TF Serving layout <base>/<name>/<version>/.",
        "export")
    export_version: int = setting(
        1, "Model version in the TF Serving layout.", "export", low=1)
    # Not part of the result: where, how far and how verbosely to run.
    until: str = setting(
        "export", "The last stage to run: train now, evaluate and export later (the same "
        "command without it resumes there).", "run", choices=PIPELINE_STAGES)
    workdir: str = setting(
        "runs/default", "Every stage writes here; re-running the same command resumes.",
        "run")
    strategy: str = setting(
        "default", "tf.distribute strategy of stages 0-2: default (one device), mirrored "
        "(local GPUs), multi_worker (the cluster in TF_CONFIG), tpu. Batch sizes are global.",
        "run", choices=STRATEGIES)
    verbose: int = setting(
        1, "Keras progress: 0 silent, 1 progress bars, 2 one line per epoch.", "run", low=0,
        high=2)
    log_every: int = setting(
        100, "Distillation steps between writes of distillation/lambda.csv (the rows of "
        "every step are kept; also written at each epoch's end).", "run", low=1)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def result_settings(self, stages: Sequence[str] = STAGES) -> dict:
        """The settings that change the result, of the given stages."""
        return {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(self)
                if spec.metadata["setting"].result
                and spec.metadata["setting"].stage in stages}

    @property
    def view_sizes(self) -> dict:
        """Every view the distillation data pipeline makes: the student's and the teacher's."""
        return {"student": self.student_resolution, **self.teacher_view_sizes}

    @property
    def teacher_view_sizes(self) -> dict:
        return {f"teacher_{i}": size for i, size in enumerate(self.resolutions)}

    @property
    def student_view_size(self) -> dict:
        return {"student": self.student_resolution}


def setting_of(name: str) -> Setting:
    """The declaration of RunConfig field ``name``."""
    return {spec.name: spec for spec in dataclasses.fields(RunConfig)}[name].metadata["setting"]


def settings() -> dict:
    """Every field's name -> (dataclasses.Field, Setting), in declaration order."""
    return {spec.name: (spec, spec.metadata["setting"]) for spec in dataclasses.fields(RunConfig)}


def _as_text(value) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_settings(config: RunConfig) -> None:
    """Refuses a value outside its declared choices or bounds, naming the flag, what is
    allowed and what the setting is."""
    check_values(dataclasses.asdict(config))


def check_values(values: dict, exclude: Sequence[str] = ()) -> None:
    """``check_settings`` for some settings (name -> value), e.g. the part of the config a
    library object takes; names in ``exclude`` are not settings and are skipped."""
    declared_settings = settings()
    for name, value in values.items():
        if value is None or name in exclude:
            continue
        declared = declared_settings[name][1]
        shown = f"--{name}={_as_text(value)}"
        if declared.choices is not None and value not in declared.choices:
            raise ValueError(f"{shown}: use one of {', '.join(declared.choices)} "
                             f"({declared.help})")
        if isinstance(value, tuple) and not value:
            raise ValueError(f"{shown}: give at least one value ({declared.help})")
        for element in value if isinstance(value, tuple) else (value,):
            low_fails = declared.low is not None and (
                element <= declared.low if declared.low_open else element < declared.low)
            high_fails = declared.high is not None and (
                element >= declared.high if declared.high_open else element > declared.high)
            if low_fails or high_fails:
                raise ValueError(f"{shown}: must be {declared.bounds_text()} ({declared.help})")
