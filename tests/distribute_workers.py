"""Processes of tests/test_distribute.py, each in a fresh interpreter (TensorFlow's devices
and collective ops are fixed once it starts). Each prints one JSON line last.

  python -m tests.distribute_workers first_step
      The first update of the distillation and calibration trainers under the default
      strategy and under MirroredStrategy over 2 logical CPU devices.
  python -m tests.distribute_workers distill ROOT TEACHER_WEIGHTS
      One worker of a MultiWorkerMirroredStrategy cluster (TF_CONFIG) running stage 2
      the way ``candle_tf.train`` does, under ROOT.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

NUM_REPLICAS = 2


def tiny_multi_worker_config(root: str):
    """Stage 2 on a few Fashion-MNIST-LT images: 4 steps per epoch, 2 epochs."""
    from candle_tf.config import RunConfig

    return RunConfig(images_per_class=20, imbalance_ratio=10, teacher="mobilenet_v2_035",
                     resolutions=(32,), student_resolution=28, width_multiplier=0.25,
                     stem_stride=1, distill_epochs=2, distill_batch_size=16, eval_batch_size=64,
                     strategy="multi_worker", workdir=root, verbose=2)


LOGGED = ("lambda", "w2", "l_kl", "l_kl_bal", "l_fs", "head")


def build_distillation(strategy, initial=None):
    """A tiny teacher / student / balancer and their trainer, built in ``strategy``'s scope
    (plain SGD: an update is -lr * the aggregated gradient). ``initial``: every part's
    weights to start from."""
    from tests.trainers.helpers import NUM_CLASSES, distillation_trainer, tiny_teacher
    from trainers.distill import Objective

    with strategy.scope():
        teacher = tiny_teacher()
        teacher.get_layer("lws").scales.assign(tf.fill([NUM_CLASSES], 5.0))
        # The authors' objective (balanced KL, balancer over the KL pair, head pass), with
        # the KL summed over classes so that the balancer's step is large enough to compare.
        trainer = distillation_trainer(
            teacher, Objective(kl_reduction="batch"), optimizer=tf.keras.optimizers.SGD(0.1),
            head_optimizer=tf.keras.optimizers.SGD(1.0),
            balancer_optimizer=tf.keras.optimizers.SGD(1.0), total_steps=10)
        parts = [teacher, trainer.student, trainer.connector, trainer.balancer]
        if initial is not None:
            for part, weights in zip(parts, initial):
                part.set_weights(weights)
    return trainer, parts


def build_calibration(strategy, initial=None):
    from candle_tf.losses import LabelAwareSmoothing
    from tests.trainers.helpers import NUM_CLASSES, tiny_teacher
    from trainers.calibrate import CalibrationTrainer

    with strategy.scope():
        teacher = tiny_teacher()
        if initial is not None:
            teacher.set_weights(initial)
        trainer = CalibrationTrainer(
            teacher, LabelAwareSmoothing(np.arange(NUM_CLASSES, 0, -1), 0.3, 0.0),
            ["teacher_0"])
        trainer.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    return trainer, teacher


def step_update(trainer, variables, views, labels):
    """One train step; returns the change of every variable and the step's logs."""
    before = [v.numpy().copy() for v in variables]
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    return [v.numpy() - b for v, b in zip(variables, before)], logs


def compare(default_updates, mirrored_updates) -> dict:
    return {"max_abs_update": max(float(np.abs(u).max()) for u in default_updates),
            "max_abs_diff": max(float(np.abs(u - m).max())
                                for u, m in zip(default_updates, mirrored_updates))}


def first_step() -> dict:
    """The replicas' halves of the global batch give the student the same images (so its
    batch-norm statistics per replica equal those of the whole batch) and the teacher
    different ones (so each replica's L_KL and L_FS differ): any error in the loss scaling
    or in the all-reduce of the balancer's inputs changes the update."""
    from candle_tf.distribute import make_strategy

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_REPLICAS)
    strategies = {"default": tf.distribute.get_strategy(), "mirrored": make_strategy("mirrored")}
    tf.keras.utils.set_random_seed(0)
    generator = tf.random.Generator.from_seed(1)
    half = generator.uniform((8, 16, 16, 1), 0, 255)
    other = tf.zeros_like(half)  # far from ``half``: the replicas' L_KL and L_FS differ
    views = {"student": tf.concat([half, half], 0), "teacher_0": tf.concat([half, other], 0)}
    labels = generator.uniform((16,), 0, 50, dtype=tf.int64)

    _, parts = build_distillation(strategies["default"])
    initial = [part.get_weights() for part in parts]
    updates, logs = {}, {}
    for name, strategy in strategies.items():
        trainer, _ = build_distillation(strategy, initial)
        groups = {"student": trainer.descent_variables, "head": trainer.head_variables,
                  "balancer": trainer.ascent_variables}
        changes, step_logs = step_update(trainer, sum(groups.values(), []), views, labels)
        updates[name], start = {}, 0
        for group, variables in groups.items():
            updates[name][group] = changes[start:start + len(variables)]
            start += len(variables)
        logs[name] = {key: float(step_logs[key]) for key in LOGGED}
    results = {"replicas": strategies["mirrored"].num_replicas_in_sync, "logs": logs}
    for group in ("student", "head", "balancer"):
        results[group] = compare(updates["default"][group], updates["mirrored"][group])

    # Calibration: the same images on both replicas, so only the loss scaling is tested.
    calibration_views = {"teacher_0": views["student"]}
    calibration_labels = tf.concat([labels[:8], labels[:8]], 0)
    _, teacher = build_calibration(strategies["default"])
    initial = teacher.get_weights()
    changes = {}
    for name, strategy in strategies.items():
        trainer, teacher = build_calibration(strategy, initial)
        changes[name], _ = step_update(trainer, teacher.trainable_variables, calibration_views,
                                       calibration_labels)
    results["calibration"] = compare(changes["default"], changes["mirrored"])
    return results


def distill(root: str, teacher_weights: str) -> dict:
    """Stage 2 inside the strategy scope, in this worker's own work dir, as train.run does."""
    from candle_tf import distribute
    from candle_tf.stages import distillation
    from candle_tf.pipeline import Run

    config = tiny_multi_worker_config(root)
    run = Run(config)
    with run.strategy.scope():
        result = run.workdir.run_stage(2, "distillation", lambda d: distillation.run(
            config, run.dataset, teacher_weights, d, run.tensorboard_dir("distillation")))
    return {"chief": distribute.is_chief(run.strategy), "workdir": run.workdir.path,
            "replicas": run.strategy.num_replicas_in_sync, **result}


if __name__ == "__main__":
    task = sys.argv[1]
    output = first_step() if task == "first_step" else distill(*sys.argv[2:4])
    print(json.dumps(output), flush=True)
