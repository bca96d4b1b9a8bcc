"""Balanced originals from TensorFlow Datasets (TFDS's own download when online), and the
registry's loaders of the LT sets derived from them.

Fixed-size images (CIFAR) are held in memory; others are written once, as the original
encoded bytes, to ``<data_dir>/candle_files/<name>/<split>/`` and read as image files.
"""

import os
from typing import Callable, Optional, Tuple

import numpy as np

from candle_tf.data.protocols import VAL_PER_CLASS, derive_long_tailed
from candle_tf.data.split import Split


def _builder(name: str, data_dir: str):
    import tensorflow_datasets as tfds  # imported lazily: only these sources need it

    builder = tfds.builder(name, data_dir=data_dir or None)
    if not os.path.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        print(f"TFDS: {name!r} is not prepared in {builder.data_dir}; downloading it. Offline, "
              "TFDS retries for about 3.5 minutes before it gives up; prepare it elsewhere "
              f"(`tfds build {name}`) and pass --data_dir=DIR to skip the wait.", flush=True)
    try:
        builder.download_and_prepare()  # a no-op when the data is already prepared
    except Exception as error:  # TFDS raises several types for a failed download.
        raise RuntimeError(
            f"TFDS could not download and prepare {name!r} ({error}). Offline, prepare "
            f"it on a machine with internet (`tfds build {name}`) and pass "
            f"--data_dir=DIR holding it, or use --dataset=folder:PATH.") from error
    return builder


def load_tfds_split(name: str, split: str, data_dir: str = "") -> Tuple[Split, Tuple[str, ...]]:
    """(Split, class names) of a TFDS image-classification split."""
    import tensorflow_datasets as tfds

    builder = _builder(name, data_dir)
    label_names = tuple(builder.info.features["label"].names)
    image_shape = builder.info.features["image"].shape
    if None not in image_shape:
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        return Split(data["image"], data["label"].astype(np.int64)), label_names
    folder = os.path.join(builder.data_dir, "candle_files", split.replace("+", "_"))
    encoded = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
    paths, labels = [], []
    os.makedirs(folder, exist_ok=True)
    for index, example in enumerate(tfds.as_numpy(encoded)):
        path = os.path.join(folder, f"{index:07d}.img")
        if not os.path.exists(path):
            with open(path + ".partial", "wb") as handle:
                handle.write(example["image"])
            os.replace(path + ".partial", path)
        paths.append(path)
        labels.append(int(example["label"]))
    return Split(None, np.asarray(labels, dtype=np.int64), np.asarray(paths)), label_names


def second_largest(labels: np.ndarray) -> int:
    """Stanford Cars' n_max: the second-largest class count."""
    return int(np.sort(np.bincount(labels))[-2])


def mean_per_class(labels: np.ndarray) -> int:
    """Caltech-101's n_max: N / C."""
    return len(labels) // len(np.unique(labels))


def tfds_loader(tfds_name: str, train_split: str, test_split: str,
                n_max_rule: Optional[Callable[[np.ndarray], int]] = None):
    """Loader of an LT set derived from a balanced TFDS original."""

    def load(name, data_dir, imbalance_ratio, seed, images_per_class,
             pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
        source, names = load_tfds_split(tfds_name, train_split, data_dir)
        test, _ = load_tfds_split(tfds_name, test_split, data_dir)
        n_max = n_max_rule(source.labels) if n_max_rule else 0
        channels = source.images.shape[-1] if source.images is not None else 3
        return derive_long_tailed(name, source, test, names, imbalance_ratio, seed,
                                  images_per_class, n_max, channels, pretrain_images_per_class,
                                  val_per_class)

    return load
