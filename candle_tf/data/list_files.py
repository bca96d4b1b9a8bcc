"""List files in the ImageNet-LT / Places-LT / iNaturalist format: ``<relative path> <label>``.

Paths are resolved under a data root. ImageNet's validation images come in two layouts:
``val/<wnid>/<file>`` (as the lists name them) and flat ``val/<file>``; both are found.
"""

import os
from typing import List, Tuple

import numpy as np

MISSING_SHOWN = 5


def parse_list_file(path: str) -> Tuple[List[str], np.ndarray]:
    """(relative paths, integer labels) of a list file; malformed lines are errors."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"List file {path} does not exist; pass the right path "
                                "(e.g. --data_root=DIR holding Places_LT_train.txt).")
    paths, labels = [], []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise ValueError(f"{path}:{number}: expected '<relative path> <integer "
                                 f"label>', got {line.strip()!r}.")
            paths.append(fields[0])
            labels.append(int(fields[1]))
    if not paths:
        raise ValueError(f"List file {path} names no images.")
    return paths, np.asarray(labels, dtype=np.int64)


def check_labels(labels: np.ndarray, num_classes: int, source: str) -> None:
    """Every label in [0, num_classes); names the first bad line otherwise."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise ValueError(f"{source}:{bad[0] + 1}: label {labels[bad[0]]} is outside "
                         f"[0, {num_classes}) ({len(bad)} such lines); fix the list file.")


def resolve(root: str, relative: str) -> str:
    """The image's path under ``root``, trying ImageNet's flat ``val/<file>`` layout too."""
    path = os.path.join(root, relative)
    if os.path.exists(path):
        return path
    parts = relative.split("/")
    if len(parts) == 3:
        flat = os.path.join(root, parts[0], parts[2])
        if os.path.exists(flat):
            return flat
    return path


def resolve_all(root: str, relatives: List[str], source: str) -> np.ndarray:
    """Absolute paths of every listed image; an error says how many are missing."""
    resolved = [resolve(root, relative) for relative in relatives]
    missing = [p for p in resolved if not os.path.exists(p)]
    if missing:
        shown = ", ".join(missing[:MISSING_SHOWN])
        raise FileNotFoundError(
            f"{source}: {len(missing)} of {len(resolved)} listed images are missing under "
            f"{root} (first: {shown}). Pass --data_root=DIR where the list's relative paths "
            f"exist, or finish extracting the images.")
    return np.asarray(resolved)
