"""Balanced originals from TensorFlow Datasets (TFDS's own download when online).

Fixed-size images (CIFAR) are held in memory; others are written once, as the original
encoded bytes, to ``<data_dir>/candle_files/<name>/<split>/`` and read as image files.
"""

import os
from typing import Tuple

import numpy as np

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
