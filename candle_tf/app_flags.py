"""Command-line flags of the apps, one per RunConfig field, and per-data-set presets.

``--dataset=NAME`` loads the preset flagfile ``flags/NAME.cfg`` (the paper's
hyper-parameters for that benchmark, or the CPU-sized default for fashion_mnist_lt);
flags given on the command line win over the preset.
"""

import dataclasses
import os
import sys
import typing
from typing import Callable

from absl import app, flags

from candle_tf.config import RunConfig

FLAGFILE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "flags")

HELP = {
    "dataset": "Registered data set (see `python -m candle_tf.train --helpfull`); loads "
               "its preset flags/NAME.cfg.",
    "data_dir": "Where the data set's files are (list files and the images their paths start "
                "from; TFDS's data_dir; empty: the data set's default place). Alias --data_root.",
    "imbalance_ratio": "n_max / n_min of the long-tailed training split (>= 1).",
    "images_per_class": "Cap every source split at this many images per class before the "
                        "LT draw, for smoke runs (0 = all); the teacher's pretraining "
                        "split too, unless --pretrain_images_per_class.",
    "val_per_class": "Validation images per class, taken (seeded) from the balanced test split "
                     "of a derived LT set; the test figures use the rest. Natively LT sets "
                     "(list files) use their own val split.",
    "seed": "Seeds Python, NumPy and TF; the LT subsample depends only on it.",
    "augmentation": "Training augmentation: crop_flip (small images), rrc_flip_jitter "
                    "(natural images), none.",
    "eval_crop_fraction": "Evaluation: resize to size/fraction, center-crop size (1 = plain "
                          "resize; 0.875 = resize 256 crop 224).",
    "teacher": "keras.applications backbone of the FP teacher, e.g. resnet152, "
               "efficientnet_v2_m, mobilenet_v2_035.",
    "teacher_weights": "imagenet (Keras download), shipped (an encoder pretrained on the "
                       "data set's balanced source and shipped with candle_tf, checksum "
                       "checked), pretrain (train the backbone on the balanced source split "
                       "now: the offline stand-in), or PATH to weights (see python -m "
                       "candle_tf.teacher_weights).",
    "pretrain_epochs": "Epochs of teacher pretraining when --teacher_weights=pretrain.",
    "pretrain_images_per_class": "Cap the balanced source split the teacher is pretrained "
                                 "on (--teacher_weights=pretrain) at this many images per "
                                 "class (0 = the --images_per_class cap).",
    "pretrain_batch_size": "Batch size of teacher pretraining.",
    "pretrain_lr": "Adam learning rate of teacher pretraining (cosine schedule).",
    "resolutions": "Teacher view sizes for multi-resolution calibration (paper: "
                   "480,224,128); one value = single resolution.",
    "calib_epochs": "Calibration epochs (an epoch = LT train size / batch steps).",
    "calib_batch_size": "Calibration batch size (global).",
    "calib_lr": "Calibration SGD learning rate per 128 images (scaled by batch/128).",
    "calib_momentum": "Calibration SGD momentum.",
    "calib_weight_decay": "Calibration weight decay.",
    "calib_warmup_epochs": "Linear warm-up epochs before the cosine decay of calibration.",
    "smoothing_head": "Label-aware smoothing epsilon of the most frequent class (MiSLAS).",
    "smoothing_tail": "Label-aware smoothing epsilon of the rarest class (MiSLAS).",
    "class_balanced": "Class-balanced sampling for calibration.",
    "calibration_bn": "Teacher encoder's batch-norm statistics during calibration: adapt "
                      "(weights frozen, statistics follow the LT data; the authors' code) "
                      "or frozen (the encoder runs in inference mode).",
    "student": "Binary student architecture (registry in candle_tf/models/students.py).",
    "student_resolution": "Input size of the student (it sees one resolution).",
    "width_multiplier": "Student channel multiplier (1 = ReActNet-A as published).",
    "stem_stride": "Stride of the student's FP stem (1 for 28-64 px inputs).",
    "distill_epochs": "Distillation epochs.",
    "distill_batch_size": "Distillation batch size (global).",
    "student_lr": "Student Adam learning rate per 128 images (cosine).",
    "temperature": "KL temperature tau.",
    "balance": "What the adversarial balancer weighs: kl_pair (L_KL against the "
               "class-balanced L_KL^bal, with a fixed --fs_weight on L_FS; the authors' code) "
               "or kl_fs (L_KL against L_FS, no balanced KL: the earlier reading).",
    "balanced_kl": "Class-balanced KL: student (log prior added to the student's logits; "
                   "the authors' default), both (to the teacher's logits too), or none (no "
                   "balanced KL: w = [1, 0], the balancer rests).",
    "fs_weight": "Fixed weight of the feature term with --balance=kl_pair: "
                 "L = w*L_FS + (1-w)*(w1*L_KL + w2*L_KL^bal) (0 = no feature term).",
    "head_pass": "Each step also trains the student's classifier alone with L_KL on "
                 "features detached from the encoder (own Adam); the encoder's loss then "
                 "does not move the classifier (--nohead_pass: one loss for all).",
    "feature_target": "Feature term on the pooled features (pooled; the paper's Fig. 1) or "
                      "on the spatial feature maps (map).",
    "kl_reduction": "KL reduction: classes (mean over batch and classes, the authors') or "
                    "batch (sum over classes, mean over the batch).",
    "balancer_lr": "Balancer AB_phi Adam learning rate (cosine); it ascends the loss.",
    "balancer_hidden": "Hidden widths of the balancer MLP.",
    "lambda_clamp": "Clamp the balancer's first weight into [c, 1 - c] so that neither "
                    "term is switched off (0 = no clamp, the paper).",
    "label_loss": "Ground-truth label term on the student, weighted by --ce_weight: ce or "
                  "balanced_softmax (CE on logits + log prior).",
    "ce_weight": "Weight of the label term (--label_loss) on the student (paper: 0).",
    "fixed_lambda": "Fix the balancer's first weight (lambda = w1; w2 = 1 - w1) and switch "
                    "the balancer off (ablation).",
    "two_step": "ReActNet's two-step recipe: distil with binary activations and real weights, "
                "then with both binary from those weights (each step --distill_epochs).",
    "select": "Which epoch's student is kept: best_val (highest balanced accuracy on the "
              "validation split, checked after every epoch) or last. The test split is "
              "read once, at the end.",
    "eval_batch_size": "Batch size for evaluation.",
    "parity_images": "Test images used to check the LCE interpreter against Keras.",
    "export_model_name": "Model name in the TF Serving layout <base>/<name>/<version>/.",
    "export_version": "Model version in the TF Serving layout.",
    "workdir": "Every stage writes here; re-running the same command resumes.",
    "strategy": "tf.distribute strategy of stages 0-2: default (one device), mirrored "
                "(local GPUs), multi_worker (the cluster in TF_CONFIG), tpu. Batch sizes "
                "are global.",
    "verbose": "Keras progress: 0 silent, 1 progress bars, 2 one line per epoch.",
    "log_every": "Distillation steps between writes of distillation/lambda.csv (the rows of "
                 "every step are kept; also written at each epoch's end).",
}


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one absl flag per RunConfig field, with the RunConfig default."""
    for spec in dataclasses.fields(RunConfig):
        kind, default = spec.type, spec.default
        args = (spec.name, default, HELP[spec.name])
        if kind is bool:
            flags.DEFINE_bool(*args, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(*args, flag_values=flag_values)
        elif kind is float or kind == typing.Optional[float]:
            flags.DEFINE_float(*args, flag_values=flag_values)
        elif kind is str:
            flags.DEFINE_string(*args, flag_values=flag_values)
        else:  # Tuple[int, ...]
            flags.DEFINE_list(spec.name, [str(v) for v in default], HELP[spec.name],
                              flag_values=flag_values)
    flags.DEFINE_alias("data_root", "data_dir", flag_values=flag_values)


def preset_path(dataset: str) -> str:
    return os.path.join(FLAGFILE_DIR, f"{dataset}.cfg")


def read_flagfile(path: str) -> dict:
    """``--name=value`` lines of a flagfile (comments and blank lines skipped)."""
    values = {}
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith("--") or "=" not in line:
                raise ValueError(f"{path}:{number}: expected --name=value, got {line!r}.")
            name, value = line[2:].split("=", 1)
            values[name] = value
    return values


# Errors caused by the user's input: printed as one line, exit code 1, no traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, RuntimeError)


def run_main(argv, work: Callable[[], object]) -> int:
    """The apps' ``main``: refuses stray arguments, runs ``work`` and turns a user error
    into its message on stderr and exit code 1."""
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        work()
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def config_from_command_line(flag_values: flags.FlagValues) -> RunConfig:
    """Applies the data set's preset, then returns the RunConfig of the flags."""
    apply_preset(flag_values)
    return config_from_flags(flag_values)


def apply_preset(flag_values: flags.FlagValues) -> None:
    """Fills flags not given on the command line from ``flags/<dataset>.cfg``, if any."""
    path = preset_path(flag_values.dataset)
    if not os.path.exists(path):
        return
    for name, value in read_flagfile(path).items():
        if name not in flag_values:
            raise ValueError(f"{path}: unknown flag --{name}; fix or remove that line.")
        if not flag_values[name].present:
            flag_values[name].value = flag_values[name].parser.parse(value)


def config_from_flags(flag_values: flags.FlagValues) -> RunConfig:
    """The RunConfig the (preset-applied) flags describe."""
    values = {}
    for spec in dataclasses.fields(RunConfig):
        value = flag_values[spec.name].value
        if spec.type not in (bool, int, float, str, typing.Optional[float]):
            value = tuple(int(v) for v in value)
        values[spec.name] = value
    return RunConfig(**values)


def flagfile_lines(config: RunConfig) -> list:
    """``--name=value`` lines from which the flags give back ``config`` (``--flagfile``).

    Fields that are None are left out: no flag value says None, and their flags default
    to None.
    """
    lines = []
    for spec in dataclasses.fields(RunConfig):
        value = getattr(config, spec.name)
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        lines.append(f"--{spec.name}={value}")
    return lines
