"""Fashion-MNIST from the original IDX files (Debian package ``dataset-fashion-mnist``),
and ``fashion_mnist_lt``: its train split made long-tailed."""

import gzip
import os

import numpy as np

from candle_tf.data.protocols import VAL_PER_CLASS, derive_long_tailed
from candle_tf.data.split import Split

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL_HINT = "apt-get install -y dataset-fashion-mnist"
CLASS_NAMES = ("t-shirt/top", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path: str) -> np.ndarray:
    """Reads one (optionally gzipped) IDX file into a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file; reinstall it with "
                         f"`{INSTALL_HINT}`.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated ({body.size} bytes for shape {shape}); "
                         f"reinstall it with `{INSTALL_HINT}`.")
    return body.reshape(shape)


def load_split(split: str, data_dir: str = "") -> tuple:
    """Returns (images uint8 [N, 28, 28, 1], labels int64 [N]) of 'train' or 'test'."""
    data_dir = data_dir or DEFAULT_DIR
    image_file, label_file = (os.path.join(data_dir, name) for name in _FILES[split])
    for path in (image_file, label_file):
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"Fashion-MNIST file {path} is missing. Install the data with "
                f"`{INSTALL_HINT}` (as root), or pass --data_dir=DIR holding the IDX files.")
    images = read_idx(image_file)[..., None]
    labels = read_idx(label_file).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{image_file} has {len(images)} images but {label_file} has "
                         f"{len(labels)} labels; reinstall with `{INSTALL_HINT}`.")
    return images, labels


def load_fashion_mnist_lt(name, data_dir, imbalance_ratio, seed, images_per_class,
                          pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
    """The registry's loader: the train split drawn long-tailed, the test split balanced."""
    return derive_long_tailed(
        name, Split(*load_split("train", data_dir)), Split(*load_split("test", data_dir)),
        CLASS_NAMES, imbalance_ratio, seed, images_per_class,
        pretrain_images_per_class=pretrain_images_per_class, val_per_class=val_per_class)
