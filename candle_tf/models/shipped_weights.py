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
SHIPPED: Dict[Tuple[str, str, int], ShippedWeights] = {
    # 91.7 % on the balanced test split (10,000 images) after 18 epochs on all 60,000
    # balanced training images; benchmarks/results/teacher_weights/.
    ("mobilenet_v2_035", "fashion_mnist_lt", 64): ShippedWeights(
        "mobilenet_v2_035_fashion_mnist_64.weights.h5",
        "23bf611a7e96a09580e1972f5497ae55195787c06362d6dd065622ff3f8f6f49",
        "python -m candle_tf.teacher_weights --teacher=mobilenet_v2_035 --resolution=64 "
        "--epochs=18 --out=candle_tf/weights/mobilenet_v2_035_fashion_mnist_64.weights.h5 "
        "--record_dir=benchmarks/results/teacher_weights"),
}


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
