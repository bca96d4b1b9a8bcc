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
    "seed": "Seeds Python, NumPy and TF; the LT subsample depends only on it.",
    "augmentation": "Training augmentation: crop_flip (small images), rrc_flip_jitter "
                    "(natural images), none.",
    "eval_crop_fraction": "Evaluation: resize to size/fraction, center-crop size (1 = plain "
                          "resize; 0.875 = resize 256 crop 224).",
    "teacher": "keras.applications backbone of the FP teacher, e.g. resnet152, "
               "efficientnet_v2_m, mobilenet_v2_035.",
    "teacher_weights": "imagenet (Keras download), pretrain (train the backbone on the "
                       "balanced source split: the offline stand-in), or PATH to weights.",
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
    "student": "Binary student architecture (registry in candle_tf/models/students.py).",
    "student_resolution": "Input size of the student (it sees one resolution).",
    "width_multiplier": "Student channel multiplier (1 = ReActNet-A as published).",
    "stem_stride": "Stride of the student's FP stem (1 for 28-64 px inputs).",
    "distill_epochs": "Distillation epochs.",
    "distill_batch_size": "Distillation batch size (global).",
    "student_lr": "Student Adam learning rate per 128 images (cosine).",
    "temperature": "KL temperature tau.",
    "balancer_lr": "Balancer AB_phi Adam learning rate (cosine); it ascends the loss.",
    "balancer_hidden": "Hidden widths of the balancer MLP.",
    "lambda_clamp": "Clamp lambda into [c, 1 - c] so that neither term is switched off "
                    "(0 = no clamp, the paper).",
    "ce_weight": "Weight of an optional ground-truth CE term on the student (paper: 0).",
    "fixed_lambda": "Fix lambda to this value and switch the balancer off (ablation).",
    "two_step": "ReActNet's two-step recipe: distil with binary activations and real weights, "
                "then with both binary from those weights (each step --distill_epochs).",
    "eval_batch_size": "Batch size for evaluation.",
    "parity_images": "Test images used to check the LCE interpreter against Keras.",
    "export_model_name": "Model name in the TF Serving layout <base>/<name>/<version>/.",
    "export_version": "Model version in the TF Serving layout.",
    "workdir": "Every stage writes here; re-running the same command resumes.",
    "strategy": "tf.distribute strategy of stages 0-2: default (one device), mirrored "
                "(local GPUs), multi_worker (the cluster in TF_CONFIG), tpu. Batch sizes "
                "are global.",
    "verbose": "Keras progress: 0 silent, 1 progress bars, 2 one line per epoch.",
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
