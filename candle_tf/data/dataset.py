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
    a group empty. ``published_counts`` (natively long-tailed sets): training images per
    class as the list file or folder has them, before --images_per_class and skipped
    files, by label; the many/medium/few groups are defined on them (``group_counts``), so
    a capped smoke run reports the groups of the full run.
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
    published_counts: Optional[np.ndarray] = None

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
    def group_counts(self) -> np.ndarray:
        """Training images per class that define many / medium / few: the published
        counts of a natively long-tailed set, else the training split's."""
        if self.published_counts is not None:
            return np.asarray(self.published_counts)
        return self.train_counts

    @property
    def image_shape(self) -> Tuple[Optional[int], Optional[int], int]:
        """(height, width, channels); sizes are None for image files of any size."""
        if self.train.images is not None:
            return tuple(self.train.images.shape[1:])
        return (None, None, self.channels)
