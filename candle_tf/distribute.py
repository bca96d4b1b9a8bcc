"""Training under ``tf.distribute``: the strategy named by ``--strategy``, each worker's
folders, and the cross-replica arithmetic of the custom train steps.

Under a strategy Keras runs ``train_step`` once per replica on that replica's share of the
global batch, and ``apply_gradients`` sums the gradients over the replicas. A step's loss
is therefore its per-replica mean divided by the number of replicas (``global_batch_loss``):
the summed gradient is then that of the mean over the global batch. Batch sizes are
global, so learning rates scaled by batch / 128 do not depend on the number of replicas.

The strategy scope lives in the apps (``candle_tf/train.py``, ``candle_tf/tune.py``): it
wraps stages 0-2, whose models and optimisers are built and trained inside it.
"""

import os

import tensorflow as tf

from candle_tf.config import RunConfig

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
WORKERS_DIR = "workers"


def check_strategy(name: str) -> None:
    if name not in STRATEGIES:
        raise ValueError(f"Unknown --strategy={name!r}. Use one of {', '.join(STRATEGIES)}.")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy ``name`` names. Create it before any other TensorFlow work: the
    multi-worker strategy configures the runtime's collective ops.

    default       one device (no distribution)
    mirrored      one replica per local GPU (per logical CPU device when there is no GPU)
    multi_worker  MultiWorkerMirroredStrategy over the cluster in the TF_CONFIG variable
    tpu           TPUStrategy on the TPU that TPUClusterResolver finds (TPU_NAME)
    """
    check_strategy(name)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "--strategy=multi_worker needs the TF_CONFIG environment variable on every "
                "worker (the cluster's addresses and this worker's task), e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\'. See README, "Several machines".')
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise RuntimeError(
            f"--strategy=tpu: no TPU found ({error}). Run on a Cloud TPU VM with "
            "TPU_NAME=local, or set TPU_NAME to the TPU's name (and its zone and project "
            "on a TPU node); elsewhere use --strategy=default, mirrored or multi_worker."
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def check_batch_sizes(config: RunConfig, replicas: int) -> None:
    """Every global batch must split evenly over the replicas (so that the per-replica
    means, averaged, are the global-batch means)."""
    for name in ("pretrain_batch_size", "calib_batch_size", "distill_batch_size"):
        size = getattr(config, name)
        if size % replicas:
            raise ValueError(
                f"--{name}={size} does not split over the {replicas} replicas of "
                f"--strategy={config.strategy}: batch sizes are global; use a multiple of "
                f"{replicas}, e.g. {max(1, round(size / replicas)) * replicas}.")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's results: False only on the non-chief
    workers of a multi-worker cluster."""
    return strategy.extended.should_checkpoint


def worker_workdir(workdir: str, strategy: tf.distribute.Strategy) -> str:
    """Where this process writes: the work dir on the chief; on another worker its own
    ``<workdir>/workers/<type>_<index>``, so that no file is written by two processes."""
    if is_chief(strategy):
        return workdir
    resolver = strategy.cluster_resolver
    return os.path.join(workdir, WORKERS_DIR, f"{resolver.task_type}_{resolver.task_id}")


def backup_dir(stage_dir: str, strategy: tf.distribute.Strategy) -> str:
    """The stage's BackupAndRestore folder. Every worker must name the chief's: Keras
    restores all workers from it (only the chief writes there)."""
    if not is_chief(strategy):  # stage_dir = <workdir>/workers/<worker>/<stage>
        workers = os.path.dirname(os.path.dirname(stage_dir))
        stage_dir = os.path.join(os.path.dirname(workers), os.path.basename(stage_dir))
    return os.path.join(stage_dir, "backup")


def global_batch_loss(per_replica_mean: tf.Tensor) -> tf.Tensor:
    """The loss a replica differentiates: its batch mean / the number of replicas."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return per_replica_mean / tf.cast(replicas, per_replica_mean.dtype)


def replica_mean(values: tf.Tensor) -> tf.Tensor:
    """The mean of ``values`` over the replicas, the same on every replica (no gradient)."""
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN,
                                                          tf.stop_gradient(values))
