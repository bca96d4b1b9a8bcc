"""Tiny JPEGs at the paths of Places-LT's published lists (the copies shipped with candle_tf),
so that a capped run finds the images it reads."""

import os

import numpy as np
from PIL import Image

from candle_tf.data import list_files
from candle_tf.data.registry import DATASETS

PLACES_LT = DATASETS["places_lt"].loader


def lay_places_lt(root: str, per_class: int, size: int = 8) -> dict:
    """Writes a ``size``-px JPEG at the first ``per_class`` listed paths of every class in
    each Places-LT list (what ``--images_per_class=per_class`` reads); returns how many
    were written per list. Each class gets its own colour."""
    written = {}
    for filename in PLACES_LT.files:
        listing = list_files.parse_list_file(list_files.shipped_list(filename))
        keep = list_files.first_per_class(listing.labels, per_class)
        for i in keep:
            path = os.path.join(root, listing.paths[i])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            label = int(listing.labels[i])
            colour = tuple(int(c) for c in np.random.default_rng(label).integers(0, 256, 3))
            Image.new("RGB", (size, size), colour).save(path, "JPEG")
        written[filename] = len(keep)
    return written
