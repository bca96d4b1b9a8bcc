"""LongTailedDataset: what every data-set loader returns."""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from candle_tf.data.split import Split


@dataclass
class LongTailedDataset:
    """A long-tailed training split with balanced validation and test splits.

    Labels are frequency ranks (0 = most frequent training class). ``source_train`` is
    the balanced original training split, used only to pretrain an offline teacher (None
    for natively long-tailed sets). ``skipped`` counts unreadable images per split.
    ``rank_ranges`` is the many/medium/few split by rank used when the count rule leaves
    a group empty.
    """

    name: str
    class_names: Tuple[str, ...]
    train: Split
    val: Split
    test: Split
    source_train: Optional[Split]
    rank_ranges: Optional[Tuple[Tuple[int, int], ...]] = None
    channels: int = 0
    skipped: Optional[Dict[str, int]] = None

    def __post_init__(self):
        if not self.channels:
            self.channels = int(self.train.images.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def train_counts(self) -> np.ndarray:
        return np.bincount(self.train.labels, minlength=self.num_classes)

    @property
    def image_shape(self) -> Tuple[Optional[int], Optional[int], int]:
        """(height, width, channels); sizes are None for image files of any size."""
        if self.train.images is not None:
            return tuple(self.train.images.shape[1:])
        return (None, None, self.channels)
