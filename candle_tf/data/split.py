"""Split: the labels of one data split and its images, in memory or as files."""

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class Split:
    """Integer labels and their images: in memory (uint8 NHWC) or as image files."""

    images: Optional[np.ndarray]
    labels: np.ndarray
    paths: Optional[np.ndarray] = None

    def __len__(self):
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> "Split":
        """The split restricted to ``indices``."""
        return Split(None if self.images is None else self.images[indices],
                     self.labels[indices], None if self.paths is None else self.paths[indices])

    def relabelled(self, labels: np.ndarray) -> "Split":
        """The same images with other labels."""
        return Split(self.images, labels, self.paths)
