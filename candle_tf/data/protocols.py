"""How a LongTailedDataset is made from its splits: derived or natively long-tailed.

Derived: a balanced original whose training split the LT protocol (lt_protocol.py)
subsamples; validation comes out of the balanced test split. Natively long-tailed: the
training split is long-tailed as published (list files, image folders); validation is the
published val split or a hold-out of the training split.
"""

from typing import Optional, Tuple

import numpy as np

from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.image_files import drop_unreadable
from candle_tf.data.lt_protocol import (balanced_subset, draw_long_tailed, frequency_order,
                                        relabel)
from candle_tf.data.split import Split

VAL_PER_CLASS = 20


def cap_per_class(split: Split, per_class: int, seed: int) -> Split:
    """At most ``per_class`` images of every class (seeded; 0 = all)."""
    if not per_class:
        return split
    return split.subset(balanced_subset(split.labels, np.arange(len(split)), per_class, seed))


def validation_from_test(name: str, test: Split, class_names: Tuple[str, ...],
                         val_per_class: int, images_per_class: int,
                         seed: int) -> Tuple[Split, Split]:
    """(val, test): the same number of images of every class moved out of ``test`` (seeded).

    That number is ``val_per_class``, or at most half of an ``images_per_class`` cap
    (so a capped test split keeps at least as many images per class as validation).
    """
    if val_per_class < 1:
        raise ValueError(f"--val_per_class={val_per_class}: give at least 1 (the validation "
                         "images per class taken from the balanced test split).")
    take = min(val_per_class, images_per_class // 2) if images_per_class else val_per_class
    if take < 1:
        raise ValueError(f"--images_per_class={images_per_class} leaves no test image for "
                         f"validation in {name}: give --images_per_class >= 2.")
    counts = np.bincount(test.labels, minlength=len(class_names))
    short = np.flatnonzero(counts < take + 1)
    if len(short):
        c = int(short[np.argmin(counts[short])])
        fix = (f"lower --val_per_class to at most {counts[c] - 1}" if counts[c] > 1 else
               "this test split cannot give every class a validation image")
        raise ValueError(
            f"{name}: class {class_names[c]!r} (label {c}) has {counts[c]} test image(s); "
            f"validation takes {take} per class from the test split and leaves at least one "
            f"for the test figures, so every class needs {take + 1}: {fix}.")
    held = balanced_subset(test.labels, np.arange(len(test)), take, seed + 1)
    return test.subset(held), test.subset(np.setdiff1d(np.arange(len(test)), held))


def derive_long_tailed(name: str, source: Split, test: Split, class_names: Tuple[str, ...],
                       imbalance_ratio: float, seed: int, images_per_class: int = 0,
                       n_max: int = 0, channels: int = 0,
                       pretrain_images_per_class: int = 0,
                       val_per_class: int = VAL_PER_CLASS,
                       rank_ranges=None) -> LongTailedDataset:
    """A balanced original made long-tailed by the protocol; the test split stays balanced.

    Validation: ``val_per_class`` images of every class, taken (seeded) out of the balanced
    test split, which keeps the rest; the LT draw from the source is not touched. With an
    ``images_per_class`` cap, the test split is capped first and validation takes
    min(val_per_class, images_per_class // 2) per class. A class with too few test images
    (fewer than that number + 1) is a ValueError.
    ``source_train`` (teacher pretraining) is the original capped at
    ``pretrain_images_per_class``, or at ``images_per_class`` when that is 0.
    """
    original = source
    source = cap_per_class(source, images_per_class, seed)
    pretrain = (cap_per_class(original, pretrain_images_per_class, seed)
                if pretrain_images_per_class else source)
    test = cap_per_class(test, images_per_class, seed)
    val, test = validation_from_test(name, test, class_names, val_per_class,
                                     images_per_class, seed)
    num_classes = len(class_names)
    draw = draw_long_tailed(source.labels, num_classes, imbalance_ratio, seed, n_max)
    order = draw.class_order
    return LongTailedDataset(
        name=name, class_names=tuple(class_names[c] for c in order),
        train=source.subset(draw.indices).relabelled(draw.labels),
        val=val.relabelled(relabel(val.labels, order)),
        test=test.relabelled(relabel(test.labels, order)),
        source_train=pretrain.relabelled(relabel(pretrain.labels, order)),
        rank_ranges=rank_ranges, channels=channels)


def hold_out_validation(train: Split, seed: int) -> Tuple[Split, Split]:
    """(train, val) for a set without a validation split: up to 20 images per class, at
    most a tenth of any class, taken out of the training split."""
    rng = np.random.default_rng(seed + 1)
    held = []
    for label in np.unique(train.labels):
        members = np.flatnonzero(train.labels == label)
        take = min(VAL_PER_CLASS, len(members) // 10)
        held.append(rng.choice(members, size=take, replace=False))
    held = np.sort(np.concatenate(held))
    return train.subset(np.setdiff1d(np.arange(len(train)), held)), train.subset(held)


def natively_long_tailed(name: str, train: Split, val: Optional[Split], test: Split,
                         class_names: Tuple[str, ...], channels: int, seed: int,
                         images_per_class: int = 0, rank_ranges=None) -> LongTailedDataset:
    """A data set whose training split is long-tailed as published (lists, folders).

    Unreadable files are skipped and counted per split; classes are re-indexed by
    training frequency; a class with no training image is an error.
    """
    splits = {"train": train, "val": val, "test": test}
    skipped = {}
    for split_name, split in splits.items():
        if split is None:
            continue
        split = cap_per_class(split, images_per_class, seed)
        if split.paths is not None:
            split, skipped[split_name] = drop_unreadable(split, channels,
                                                         f"{name} {split_name}")
        splits[split_name] = split
    counts = np.bincount(splits["train"].labels, minlength=len(class_names))
    if (counts == 0).any():
        empty = np.flatnonzero(counts == 0)
        raise ValueError(f"{name}: {len(empty)} class(es) have no (readable) training image, "
                         f"e.g. {class_names[empty[0]]!r} (label {empty[0]}); add images or "
                         "remove the class.")
    if splits["val"] is None:
        splits["train"], splits["val"] = hold_out_validation(splits["train"], seed)
    order = frequency_order(splits["train"].labels, len(class_names))
    ranked = {k: v.relabelled(relabel(v.labels, order)) for k, v in splits.items()}
    return LongTailedDataset(
        name=name, class_names=tuple(class_names[c] for c in order), train=ranked["train"],
        val=ranked["val"], test=ranked["test"], source_train=None, rank_ranges=rank_ranges,
        channels=channels, skipped=skipped)
