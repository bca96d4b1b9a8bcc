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
                                        long_tailed_counts, relabel)
from candle_tf.data.split import Split

VAL_PER_CLASS = 20
NATIVE_FIX = "add readable images of it or remove the class"


def refuse_untrained_classes(name: str, counts: np.ndarray, class_names: Tuple[str, ...],
                             fix: str) -> None:
    """A ValueError naming the first class with no training image, and ``fix``.

    Derived and natively long-tailed sets refuse such a class the same way: it could be
    neither learnt nor calibrated, and its test images would count as certain misses.
    """
    empty = np.flatnonzero(np.asarray(counts) == 0)
    if len(empty):
        c = int(empty[0])
        raise ValueError(f"{name}: {len(empty)} class(es) have no training image, "
                         f"e.g. {class_names[c]!r} (label {c}); {fix}.")


def _profile_fix(num_classes: int, imbalance_ratio: float, n_max: int, capped: bool) -> str:
    """What to change when the LT profile gives a class 0 images: the smallest n_max (the
    --images_per_class cap, when it sets n_max) or the largest ratio that give it one."""
    def enough(top, ratio):
        return long_tailed_counts(top, num_classes, ratio)[-1] >= 1

    profile = (f"the long-tailed profile gives the rarest class int({n_max} / "
               f"{imbalance_ratio:g}) = 0 images (n_max = {n_max}"
               + (", the --images_per_class cap)" if capped else ")"))
    fixes = []
    if capped:
        need = int(np.ceil(imbalance_ratio))
        while not enough(need, imbalance_ratio):
            need += 1
        fixes.append(f"raise --images_per_class to at least {need}")
    ratio = float(n_max)
    while ratio > 1 and not enough(n_max, ratio):
        ratio = np.nextafter(ratio, 0.0)
    fixes.append(f"lower --imbalance_ratio to at most {ratio:g}")
    return f"{profile}: {' or '.join(fixes)}"


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
    A class the draw leaves without a training image (the cap or the ratio too small for
    the profile) is a ValueError naming it and the fix, as in natively_long_tailed.
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
    available = np.bincount(source.labels, minlength=num_classes)[order]
    if available.min() == 0:
        refuse_untrained_classes(name, available, tuple(class_names[c] for c in order),
                                 "its balanced source split holds no image of it")
    used_n_max = int(n_max or available[0])
    refuse_untrained_classes(
        name, np.bincount(draw.labels, minlength=num_classes),
        tuple(class_names[c] for c in order),
        _profile_fix(num_classes, imbalance_ratio, used_n_max,
                     bool(images_per_class) and used_n_max == images_per_class))
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
                         images_per_class: int = 0, rank_ranges=None,
                         published_counts: Optional[np.ndarray] = None) -> LongTailedDataset:
    """A data set whose training split is long-tailed as published (lists, folders).

    Unreadable files are skipped and counted per split; classes are re-indexed by
    training frequency; a class with no training image is an error. The many / medium /
    few groups come from ``published_counts`` (by original label; default: ``train``'s
    counts before the cap and the skipped files), whatever ``images_per_class``.
    """
    if published_counts is None:
        published_counts = np.bincount(train.labels, minlength=len(class_names))
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
    refuse_untrained_classes(name, np.bincount(splits["train"].labels,
                                               minlength=len(class_names)),
                             class_names, NATIVE_FIX)
    if splits["val"] is None:
        splits["train"], splits["val"] = hold_out_validation(splits["train"], seed)
    order = frequency_order(splits["train"].labels, len(class_names))
    ranked = {k: v.relabelled(relabel(v.labels, order)) for k, v in splits.items()}
    return LongTailedDataset(
        name=name, class_names=tuple(class_names[c] for c in order), train=ranked["train"],
        val=ranked["val"], test=ranked["test"], source_train=None, rank_ranges=rank_ranges,
        channels=channels, skipped=skipped,
        published_counts=np.asarray(published_counts, dtype=np.int64)[order])
