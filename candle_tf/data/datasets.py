"""Registry of named long-tailed data sets and the container they load into."""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import os

import numpy as np

from candle_tf.data import fashion_mnist, list_files
from candle_tf.data.image_files import drop_unreadable
from candle_tf.data.image_folder import scan_image_folder
from candle_tf.data.lt_protocol import (balanced_subset, draw_long_tailed, frequency_order,
                                        relabel)
from candle_tf.data.split import Split
from candle_tf.data.tfds_source import load_tfds_split

VAL_PER_CLASS = 20


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


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one named data set, and its paper hyper-parameters."""

    loader: Callable[..., LongTailedDataset]
    rank_ranges: Optional[Tuple[Tuple[int, int], ...]]
    description: str


def _cap_per_class(split: Split, per_class: int, seed: int) -> Split:
    if not per_class:
        return split
    return split.subset(balanced_subset(split.labels, np.arange(len(split)), per_class, seed))


def _validation_from_test(name: str, test: Split, class_names: Tuple[str, ...],
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
                       val_per_class: int = VAL_PER_CLASS) -> LongTailedDataset:
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
    source = _cap_per_class(source, images_per_class, seed)
    pretrain = (_cap_per_class(original, pretrain_images_per_class, seed)
                if pretrain_images_per_class else source)
    test = _cap_per_class(test, images_per_class, seed)
    val, test = _validation_from_test(name, test, class_names, val_per_class,
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
        rank_ranges=DATASETS[name].rank_ranges if name in DATASETS else None,
        channels=channels)


def _second_largest(labels: np.ndarray) -> int:
    """Stanford Cars' n_max: the second-largest class count."""
    return int(np.sort(np.bincount(labels))[-2])


def _mean_per_class(labels: np.ndarray) -> int:
    """Caltech-101's n_max: N / C."""
    return len(labels) // len(np.unique(labels))


def _load_fashion_mnist_lt(name, data_dir, imbalance_ratio, seed, images_per_class,
                           pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
    return derive_long_tailed(
        name, Split(*fashion_mnist.load_split("train", data_dir)),
        Split(*fashion_mnist.load_split("test", data_dir)), fashion_mnist.CLASS_NAMES,
        imbalance_ratio, seed, images_per_class,
        pretrain_images_per_class=pretrain_images_per_class, val_per_class=val_per_class)


def _tfds_loader(tfds_name: str, train_split: str, test_split: str,
                 n_max_rule: Optional[Callable[[np.ndarray], int]] = None):
    """Loader of an LT set derived from a balanced TFDS original."""

    def load(name, data_dir, imbalance_ratio, seed, images_per_class,
             pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
        source, names = load_tfds_split(tfds_name, train_split, data_dir)
        test, _ = load_tfds_split(tfds_name, test_split, data_dir)
        n_max = n_max_rule(source.labels) if n_max_rule else 0
        channels = source.images.shape[-1] if source.images is not None else 3
        return derive_long_tailed(name, source, test, names, imbalance_ratio, seed,
                                  images_per_class, n_max, channels, pretrain_images_per_class,
                                  val_per_class)

    return load


def _derived_folder_loader(name, data_dir, imbalance_ratio, seed, images_per_class,
                           pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
    """An LT set derived from a balanced image folder: --data_dir with train/ and test/."""
    if not data_dir:
        raise ValueError(f"--dataset={name} is derived from its balanced original as image "
                         "folders: pass --data_dir=DIR with DIR/train/<class>/<image> and "
                         "DIR/test/<class>/<image>.")
    paths, labels, names = scan_image_folder(os.path.join(data_dir, "train"))
    test_paths, test_labels, _ = scan_image_folder(os.path.join(data_dir, "test"), names)
    return derive_long_tailed(name, Split(None, labels, paths),
                              Split(None, test_labels, test_paths), names, imbalance_ratio,
                              seed, images_per_class, channels=3,
                              pretrain_images_per_class=pretrain_images_per_class,
                              val_per_class=val_per_class)


def _class_names_from_paths(paths, labels, num_classes: int) -> Tuple[str, ...]:
    """Each label's name: the parent folder of its first listed image."""
    names = [f"class_{label}" for label in range(num_classes)]
    seen = set()
    for path, label in zip(paths, labels):
        if label not in seen:
            seen.add(label)
            names[label] = os.path.basename(os.path.dirname(path)) or names[label]
    return tuple(names)


def _hold_out_validation(train: Split, seed: int) -> Tuple[Split, Split]:
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
        split = _cap_per_class(split, images_per_class, seed)
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
        splits["train"], splits["val"] = _hold_out_validation(splits["train"], seed)
    order = frequency_order(splits["train"].labels, len(class_names))
    ranked = {k: v.relabelled(relabel(v.labels, order)) for k, v in splits.items()}
    return LongTailedDataset(
        name=name, class_names=tuple(class_names[c] for c in order), train=ranked["train"],
        val=ranked["val"], test=ranked["test"], source_train=None, rank_ranges=rank_ranges,
        channels=channels, skipped=skipped)


def _from_lists(name: str, train_list: str, val_list: Optional[str], test_list: str,
                image_root: str, num_classes: Optional[int], seed: int,
                images_per_class: int, rank_ranges=None) -> LongTailedDataset:
    """A data set from list files (``<relative path> <label>`` per line)."""
    parsed = {split: list_files.parse_list_file(path) for split, path in
              (("train", train_list), ("val", val_list), ("test", test_list)) if path}
    num_classes = num_classes or int(parsed["train"][1].max()) + 1
    splits = {}
    for split, (relatives, labels) in parsed.items():
        source = {"train": train_list, "val": val_list, "test": test_list}[split]
        list_files.check_labels(labels, num_classes, source)
        splits[split] = Split(None, labels, list_files.resolve_all(image_root, relatives, source))
    names = _class_names_from_paths(parsed["train"][0], parsed["train"][1], num_classes)
    return natively_long_tailed(name, splits["train"], splits.get("val"), splits["test"], names,
                                3, seed, images_per_class, rank_ranges)


def _list_file_loader(train: str, val: Optional[str], test: str,
                      num_classes: int) -> Callable[..., LongTailedDataset]:
    """Loader of a published list-file benchmark; lists and images under --data_dir."""

    def load(name, data_dir, imbalance_ratio, seed, images_per_class,
             pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
        # Natively long-tailed: nothing to pretrain on, and the published val list (or a
        # hold-out of the training split) is the validation split.
        if not data_dir:
            raise ValueError(f"--dataset={name} reads {train} and its images from "
                             "--data_dir=DIR (the folder the list's relative paths start "
                             "from, holding the list files too).")
        lists = [os.path.join(data_dir, f) if f else None for f in (train, val, test)]
        return _from_lists(name, *lists, data_dir, num_classes, seed, images_per_class,
                           DATASETS[name].rank_ranges)

    return load


def _load_folder(name: str, root: str, seed: int, images_per_class: int) -> LongTailedDataset:
    """``folder:ROOT`` with ROOT/train/<class>/…, ROOT/test/<class>/… and optional val/."""
    def folder_split(split: str, names=()):
        paths, labels, names = scan_image_folder(os.path.join(root, split), names)
        return Split(None, labels, paths), names

    train, names = folder_split("train")
    test, _ = folder_split("test", names)
    val = folder_split("val", names)[0] if os.path.isdir(os.path.join(root, "val")) else None
    return natively_long_tailed(name, train, val, test, names, 3, seed, images_per_class)


def _load_lists(name: str, spec: str, data_dir: str, seed: int,
                images_per_class: int) -> LongTailedDataset:
    """``list:TRAIN,TEST`` or ``list:TRAIN,VAL,TEST``; images under --data_dir or the
    train list's folder."""
    files = spec.split(",")
    if len(files) not in (2, 3):
        raise ValueError(f"--dataset=list:{spec}: give list:TRAIN.txt,TEST.txt or "
                         "list:TRAIN.txt,VAL.txt,TEST.txt.")
    train, test = files[0], files[-1]
    val = files[1] if len(files) == 3 else None
    root = data_dir or os.path.dirname(os.path.abspath(train))
    return _from_lists(name, train, val, test, root, None, seed, images_per_class)


DATASETS: Dict[str, DatasetSpec] = {
    "fashion_mnist_lt": DatasetSpec(
        loader=_load_fashion_mnist_lt, rank_ranges=((0, 3), (3, 7), (7, 10)),
        description="Fashion-MNIST made long-tailed (offline; Debian dataset-fashion-mnist)"),
    "cifar10_lt": DatasetSpec(
        loader=_tfds_loader("cifar10", "train", "test"), rank_ranges=((0, 3), (3, 7), (7, 10)),
        description="CIFAR-10-LT (TFDS cifar10; LDAM-DRW protocol)"),
    "cifar100_lt": DatasetSpec(
        loader=_tfds_loader("cifar100", "train", "test"),
        rank_ranges=((0, 36), (36, 71), (71, 100)), description="CIFAR-100-LT (TFDS cifar100)"),
    "cub_lt": DatasetSpec(
        loader=_tfds_loader("caltech_birds2011", "train", "test"),
        rank_ranges=((0, 72), (72, 142), (142, 200)), description="CUB-200-2011-LT"),
    "dogs_lt": DatasetSpec(
        loader=_tfds_loader("stanford_dogs", "train", "test"),
        rank_ranges=((0, 43), (43, 85), (85, 120)), description="Stanford Dogs-LT"),
    "cars_lt": DatasetSpec(
        loader=_tfds_loader("cars196", "train", "test", _second_largest),
        rank_ranges=((0, 70), (70, 139), (139, 196)),
        description="Stanford Cars-LT (n_max = second-largest class)"),
    "flowers_lt": DatasetSpec(
        loader=_tfds_loader("oxford_flowers102", "train+validation", "test"),
        rank_ranges=((0, 36), (36, 72), (72, 102)), description="Flowers-102-LT"),
    "dtd_lt": DatasetSpec(
        loader=_tfds_loader("dtd", "train+validation", "test"),
        rank_ranges=((0, 14), (14, 33), (33, 47)), description="DTD-LT"),
    "caltech101_lt": DatasetSpec(
        loader=_tfds_loader("caltech101", "train", "test", _mean_per_class),
        rank_ranges=((0, 36), (36, 71), (71, 102)),
        description="Caltech-101-LT (n_max = N / C)"),
    "aircraft_lt": DatasetSpec(
        loader=_derived_folder_loader, rank_ranges=((0, 36), (36, 71), (71, 100)),
        description="FGVC-Aircraft-LT (image folders: not in TFDS)"),
    "fruits360_lt": DatasetSpec(
        loader=_derived_folder_loader, rank_ranges=((0, 7), (7, 14), (14, 24)),
        description="Fruits-360-LT, 24-class subset (image folders: not in TFDS)"),
    "places_lt": DatasetSpec(
        loader=_list_file_loader("Places_LT_train.txt", "Places_LT_val.txt",
                                 "Places_LT_test.txt", 365),
        rank_ranges=None, description="Places-LT (Liu et al. 2019 list files)"),
    "imagenet_lt": DatasetSpec(
        loader=_list_file_loader("ImageNet_LT_train.txt", "ImageNet_LT_val.txt",
                                 "ImageNet_LT_test.txt", 1000),
        rank_ranges=((0, 390), (390, 835), (835, 1000)),
        description="ImageNet-LT (Liu et al. 2019 list files)"),
    "inat2018": DatasetSpec(
        loader=_list_file_loader("iNaturalist18_train.txt", None, "iNaturalist18_val.txt",
                                 8142),
        rank_ranges=((0, 842), (842, 4543), (4543, 8142)),
        description="iNaturalist 2018 (natively long-tailed; its val list is the test set)"),
}
USER_PREFIXES = ("folder:", "list:")


def known_dataset(name: str) -> bool:
    """A registered name, or a user's ``folder:PATH`` / ``list:FILES`` set."""
    return name in DATASETS or name.startswith(USER_PREFIXES)


def load_dataset(name: str, data_dir: str = "", imbalance_ratio: float = 100.0,
                 seed: int = 0, images_per_class: int = 0,
                 pretrain_images_per_class: int = 0,
                 val_per_class: int = VAL_PER_CLASS) -> LongTailedDataset:
    """Loads a data set by name; ``images_per_class`` caps every split (0 = all),
    ``pretrain_images_per_class`` the teacher's balanced pretraining split (0 = the same),
    ``val_per_class`` the validation images per class a derived LT set takes from its
    balanced test split (natively LT sets: their own val split; see derive_long_tailed)."""
    if name.startswith("folder:"):
        return _load_folder(name, name[len("folder:"):], seed, images_per_class)
    if name.startswith("list:"):
        return _load_lists(name, name[len("list:"):], data_dir, seed, images_per_class)
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}. Known: {', '.join(sorted(DATASETS))}, "
                         "or folder:PATH, list:TRAIN.txt,TEST.txt.")
    return DATASETS[name].loader(name, data_dir, imbalance_ratio, seed, images_per_class,
                                 pretrain_images_per_class, val_per_class=val_per_class)
