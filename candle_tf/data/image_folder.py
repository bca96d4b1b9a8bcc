"""Image folders: ``<root>/<class name>/<image>``; classes sorted by name."""

import os
from typing import Tuple

import numpy as np

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
