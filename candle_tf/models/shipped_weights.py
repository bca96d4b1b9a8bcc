"""Teacher encoder weights shipped with candle_tf, found and checksum-checked on load.

``--teacher_weights=shipped`` is the offline equivalent of ``imagenet``: an encoder
pretrained once on a balanced source (by ``python -m candle_tf.teacher_weights``, whose
recorded run is in ``benchmarks/results/teacher_weights/``) and loaded the way a
downloaded weights file would be. Adding one is an entry in ``SHIPPED``.
"""

import hashlib
import os
from dataclasses import dataclass
from typing import Dict, Tuple

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "weights")


@dataclass(frozen=True)
class ShippedWeights:
    """An encoder weights file in ``candle_tf/weights/`` and the SHA-256 it must have."""

    file: str
    sha256: str
    command: str  # the command that regenerates it

    @property
    def path(self) -> str:
        return os.path.join(WEIGHTS_DIR, self.file)


# (backbone, data set, teacher resolution) -> weights pretrained on that data set's
# balanced source split.
SHIPPED: Dict[Tuple[str, str, int], ShippedWeights] = {}


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_weights(teacher: str, dataset: str, resolution: int) -> str:
    """The path of the shipped encoder for this backbone / data set / resolution, after
    checking its checksum; an error naming what is shipped otherwise."""
    entry = SHIPPED.get((teacher, dataset, resolution))
    if entry is None:
        known = ", ".join(f"--teacher={t} --dataset={d} --resolutions={r}"
                          for t, d, r in sorted(SHIPPED)) or "none"
        raise ValueError(
            f"--teacher_weights=shipped: no shipped encoder for --teacher={teacher} "
            f"--dataset={dataset} at {resolution} px. Shipped: {known}. Use "
            "--teacher_weights=pretrain, imagenet, or PATH to a weights file.")
    if not os.path.exists(entry.path):
        raise FileNotFoundError(f"{entry.path} is missing from this checkout; restore it "
                                f"(git checkout -- {entry.path}) or regenerate it: "
                                f"{entry.command}")
    found = sha256(entry.path)
    if found != entry.sha256:
        raise ValueError(f"{entry.path}: SHA-256 {found} differs from the shipped "
                         f"{entry.sha256}; the file is damaged or was replaced. Restore it "
                         f"(git checkout -- {entry.path}) or regenerate it: {entry.command}")
    return entry.path
