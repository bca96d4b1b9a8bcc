"""Image folders: ``<root>/<class name>/<image>``; classes sorted by name.

Two loaders use them: ``folder:ROOT`` (a natively long-tailed set of the user's) and the
registered sets derived from a balanced original kept as folders (``--data_dir``).
"""

import os
from typing import Tuple

import numpy as np

from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.protocols import VAL_PER_CLASS, derive_long_tailed, natively_long_tailed
from candle_tf.data.split import Split

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def scan_image_folder(root: str, class_names: Tuple[str, ...] = ()) -> Tuple[
        np.ndarray, np.ndarray, Tuple[str, ...]]:
    """(paths, labels, class names) of every image under ``root``.

    ``class_names`` fixes the label order (e.g. the train split's, for a test folder).
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Image folder {root} does not exist; expected "
                                f"{root}/<class name>/<image>.")
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    names = tuple(class_names) or tuple(found)
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise ValueError(f"{root} has class folders not in the training split: {unknown}; "
                         "every split must use the training split's class names.")
    paths, labels = [], []
    for label, name in enumerate(names):
        folder = os.path.join(root, name)
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS)) \
            if os.path.isdir(folder) else []
        paths += [os.path.join(folder, f) for f in files]
        labels += [label] * len(files)
    if not paths:
        raise ValueError(f"{root} holds no images ({', '.join(IMAGE_EXTENSIONS)}) in class "
                         "folders.")
    return np.asarray(paths), np.asarray(labels, dtype=np.int64), names


def derived_folder_loader(name, data_dir, imbalance_ratio, seed, images_per_class,
                          pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
    """An LT set derived from a balanced image folder: --data_dir with train/ and test/."""
    if not data_dir:
        raise ValueError(f"--dataset={name} is derived from its balanced original as image "
                         "folders: pass --data_dir=DIR with DIR/train/<class>/<image> and "
                         "DIR/test/<class>/<image>.")
    paths, labels, names = scan_image_folder(os.path.join(data_dir, "train"))
    test_paths, test_labels, _ = scan_image_folder(os.path.join(data_dir, "test"), names)
    return derive_long_tailed(name, Split(None, labels, paths),
                              Split(None, test_labels, test_paths), names, imbalance_ratio,
                              seed, images_per_class, channels=3,
                              pretrain_images_per_class=pretrain_images_per_class,
                              val_per_class=val_per_class)


def load_folder(name: str, root: str, seed: int, images_per_class: int) -> LongTailedDataset:
    """``folder:ROOT`` with ROOT/train/<class>/…, ROOT/test/<class>/… and optional val/."""
    def folder_split(split: str, names=()):
        paths, labels, names = scan_image_folder(os.path.join(root, split), names)
        return Split(None, labels, paths), names

    train, names = folder_split("train")
    test, _ = folder_split("test", names)
    val = folder_split("val", names)[0] if os.path.isdir(os.path.join(root, "val")) else None
    return natively_long_tailed(name, train, val, test, names, 3, seed, images_per_class)
