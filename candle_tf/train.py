"""``python -m candle_tf.train``: every CANDLE stage, resumable, under ``--workdir``.

  0 teacher       pretrained FP encoder (ImageNet, a weights file, or pretrained offline)
  1 calibration   frozen encoder; multi-resolution fusion + classifier + LWS on the LT data
  2 distillation  binary student; lambda*KL + (1-lambda)*FS, lambda by adversarial balancing
  3 evaluation    top-1, many / medium / few, per class on the balanced test set
  4 export        LCE .tflite for the edge, SavedModel for TF Serving

With no flags: ``--dataset=fashion_mnist_lt`` with its CPU-sized preset (flags/).
Re-running the same command skips finished stages and resumes an interrupted one.
"""

import os
from typing import Tuple

import tensorflow as tf
from absl import app, flags

from candle_tf import app_flags, builders, distribute, evaluate
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.registry import DATASETS, known_dataset
from candle_tf.models.students import check_student, logits_model
from candle_tf.models.shipped_weights import shipped_weights
from candle_tf.models.teacher import CALIBRATION_BN, check_backbone, reference_view
from candle_tf.stages import calibration, distillation, export_stage, teacher
from candle_tf.training import check_select, seed_everything
from candle_tf.workdir import Workdir, write_json

FLAGS = flags.FLAGS
MIN_TEACHER_VIEW = 32  # keras.applications' smallest input; MobileNetV2 fails on 16 px
app_flags.define_flags()
flags.adopt_module_key_flags(app_flags)  # so that --help lists them


def check_config(config: RunConfig) -> None:
    """Rejects bad settings before any data is loaded or any model trained."""
    if not known_dataset(config.dataset):
        raise ValueError(f"Unknown --dataset={config.dataset!r}. Known: "
                         f"{', '.join(sorted(DATASETS))}, or folder:PATH, "
                         "list:TRAIN.txt,TEST.txt.")
    check_backbone(config.teacher)
    check_student(config.student, config.student_resolution,
                  builders.student_options(config, binary_weights=not config.two_step))
    if config.imbalance_ratio < 1:
        raise ValueError(f"--imbalance_ratio={config.imbalance_ratio} is below 1; it is "
                         "n_max / n_min: use 1 (balanced) or more, e.g. 100.")
    if not config.resolutions or min(config.resolutions) < MIN_TEACHER_VIEW:
        raise ValueError(f"--resolutions={','.join(map(str, config.resolutions))}: give one "
                         f"or more view sizes of at least {MIN_TEACHER_VIEW} px (the smallest "
                         "input of the keras.applications backbones), e.g. --resolutions=64,32.")
    builders.objective(config)  # checks the distillation settings
    if config.calibration_bn not in CALIBRATION_BN:
        raise ValueError(f"--calibration_bn={config.calibration_bn!r}: use one of "
                         f"{', '.join(CALIBRATION_BN)}.")
    check_select(config.select)
    distribute.check_strategy(config.strategy)
    weights = config.teacher_weights
    if weights == "shipped":
        shipped_weights(config.teacher, config.dataset,
                        config.resolutions[reference_view(config.resolutions)])
    elif weights not in ("imagenet", "pretrain") and not os.path.exists(weights):
        raise FileNotFoundError(f"--teacher_weights={weights!r}: no such file. Use imagenet, "
                                "shipped, pretrain, or the path of a weights file.")


def prepare(config: RunConfig
            ) -> Tuple[tf.distribute.Strategy, LongTailedDataset, Workdir]:
    """Checks the settings, makes the strategy (before any other TensorFlow work), seeds,
    loads the data set and opens this process's work dir, recording the run."""
    check_config(config)
    strategy = distribute.make_strategy(config.strategy)
    distribute.check_batch_sizes(config, strategy.num_replicas_in_sync)
    seed_everything(config.seed)
    dataset = builders.dataset(config)
    print(f"{dataset.name}: {len(dataset.train)} LT training images "
          f"({dataset.train_counts.max()} to {dataset.train_counts.min()} per class), "
          f"{len(dataset.val)} validation, {len(dataset.test)} test, "
          f"{dataset.num_classes} classes; {strategy.num_replicas_in_sync} replica(s) "
          f"(--strategy={config.strategy})", flush=True)
    workdir = Workdir(distribute.worker_workdir(config.workdir, strategy))
    workdir.record_run(config)
    return strategy, dataset, workdir


def tensorboard_dir(workdir: Workdir, stage: str) -> str:
    return os.path.join(workdir.path, "tensorboard", stage)


def teacher_stages(config: RunConfig, dataset: LongTailedDataset, workdir: Workdir) -> dict:
    """Stages 0-1, or their results when done; returns stage 1's (the calibrated teacher)."""
    stage0 = workdir.run_stage(0, "teacher", lambda d: teacher.run(
        config, dataset, d, tensorboard_dir(workdir, "teacher")))
    return workdir.run_stage(1, "calibration", lambda d: calibration.run(
        config, dataset, stage0["encoder"], d, tensorboard_dir(workdir, "calibration")))


def run(config: RunConfig) -> dict:
    """Runs (or resumes) stages 0-4 and returns the metrics written to metrics.json.

    Stages 0-2 train inside the ``--strategy`` scope. On a multi-worker cluster only the
    chief evaluates and exports; the other workers return an empty dict after stage 2.
    """
    strategy, dataset, workdir = prepare(config)
    with strategy.scope():
        stage1 = teacher_stages(config, dataset, workdir)
        stage2 = workdir.run_stage(2, "distillation", lambda d: distillation.run(
            config, dataset, stage1["teacher"], d, tensorboard_dir(workdir, "distillation")))
    if not distribute.is_chief(strategy):
        print("This worker's training is done; the chief evaluates and exports.", flush=True)
        return {}

    def evaluation(stage_dir):
        teacher_model = builders.load_calibrated_teacher(config, dataset, stage1["teacher"])
        student = builders.student(config, dataset)
        student.load_weights(stage2["student"])
        reports = {
            "teacher (calibrated)": evaluate.evaluate(
                teacher_model, dataset, config.teacher_view_sizes, config.eval_batch_size,
                config.eval_crop_fraction),
            f"student ({config.student})": evaluate.evaluate(
                logits_model(student), dataset, {"student": config.student_resolution},
                config.eval_batch_size, config.eval_crop_fraction),
        }
        write_json(os.path.join(stage_dir, "metrics.json"), reports)
        return {"reports": reports}

    stage3 = workdir.run_stage(3, "evaluation", evaluation)
    stage4 = workdir.run_stage(4, "export", lambda d: export_stage.run(
        config, dataset, stage2["student"], stage1["teacher"], d))
    metrics = {
        "dataset": dataset.name, "train_counts": dataset.train_counts.tolist(),
        "skipped_unreadable": dataset.skipped or {},
        "class_names": list(dataset.class_names), "models": stage3["reports"],
        "final_lambda": stage2.get("final_lambda"), "export": stage4,
        "stage_seconds": {s: workdir.result(s)["seconds"] for s in
                          ("teacher", "calibration", "distillation", "evaluation", "export")},
    }
    write_json(os.path.join(workdir.path, "metrics.json"), metrics)
    print("\nTest accuracy (%), balanced test set:\n" + evaluate.format_table(stage3["reports"]))
    print(f"\nmetrics: {os.path.join(workdir.path, 'metrics.json')}")
    return metrics


def main(argv):
    return app_flags.run_main(argv, lambda: run(app_flags.config_from_command_line(FLAGS)))


if __name__ == "__main__":
    app.run(main)
