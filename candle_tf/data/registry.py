"""The data sets ``--dataset`` names: the registry, and the one function that loads them.

A registered name maps to a ``DatasetSpec`` (its loader, many/medium/few rank ranges and a
description); ``folder:PATH`` and ``list:TRAIN.txt,TEST.txt`` load a user's own data.
Every loader returns a ``LongTailedDataset`` (candle_tf/data/dataset.py).
"""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.fashion_mnist import load_fashion_mnist_lt
from candle_tf.data.image_folder import derived_folder_loader, load_folder
from candle_tf.data.list_files import PublishedLists, load_lists
from candle_tf.data.protocols import VAL_PER_CLASS
from candle_tf.data.tfds_source import mean_per_class, second_largest, tfds_loader


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one named data set, and its paper hyper-parameters."""

    loader: Callable[..., LongTailedDataset]
    rank_ranges: Optional[Tuple[Tuple[int, int], ...]]
    description: str


DATASETS: Dict[str, DatasetSpec] = {
    "fashion_mnist_lt": DatasetSpec(
        loader=load_fashion_mnist_lt, rank_ranges=((0, 3), (3, 7), (7, 10)),
        description="Fashion-MNIST made long-tailed (offline; Debian dataset-fashion-mnist)"),
    "cifar10_lt": DatasetSpec(
        loader=tfds_loader("cifar10", "train", "test"), rank_ranges=((0, 3), (3, 7), (7, 10)),
        description="CIFAR-10-LT (TFDS cifar10; LDAM-DRW protocol)"),
    "cifar100_lt": DatasetSpec(
        loader=tfds_loader("cifar100", "train", "test"),
        rank_ranges=((0, 36), (36, 71), (71, 100)), description="CIFAR-100-LT (TFDS cifar100)"),
    "cub_lt": DatasetSpec(
        loader=tfds_loader("caltech_birds2011", "train", "test"),
        rank_ranges=((0, 72), (72, 142), (142, 200)), description="CUB-200-2011-LT"),
    "dogs_lt": DatasetSpec(
        loader=tfds_loader("stanford_dogs", "train", "test"),
        rank_ranges=((0, 43), (43, 85), (85, 120)), description="Stanford Dogs-LT"),
    "cars_lt": DatasetSpec(
        loader=tfds_loader("cars196", "train", "test", second_largest),
        rank_ranges=((0, 70), (70, 139), (139, 196)),
        description="Stanford Cars-LT (n_max = second-largest class)"),
    "flowers_lt": DatasetSpec(
        loader=tfds_loader("oxford_flowers102", "train+validation", "test"),
        rank_ranges=((0, 36), (36, 72), (72, 102)), description="Flowers-102-LT"),
    "dtd_lt": DatasetSpec(
        loader=tfds_loader("dtd", "train+validation", "test"),
        rank_ranges=((0, 14), (14, 33), (33, 47)), description="DTD-LT"),
    "caltech101_lt": DatasetSpec(
        loader=tfds_loader("caltech101", "train", "test", mean_per_class),
        rank_ranges=((0, 36), (36, 71), (71, 102)),
        description="Caltech-101-LT (n_max = N / C)"),
    "aircraft_lt": DatasetSpec(
        loader=derived_folder_loader, rank_ranges=((0, 36), (36, 71), (71, 100)),
        description="FGVC-Aircraft-LT (image folders: not in TFDS)"),
    "fruits360_lt": DatasetSpec(
        loader=derived_folder_loader, rank_ranges=((0, 7), (7, 14), (14, 24)),
        description="Fruits-360-LT, 24-class subset (image folders: not in TFDS)"),
    "places_lt": DatasetSpec(
        loader=PublishedLists("Places_LT_train.txt", "Places_LT_val.txt",
                              "Places_LT_test.txt", 365),
        rank_ranges=None, description="Places-LT (Liu et al. 2019 list files)"),
    "imagenet_lt": DatasetSpec(
        loader=PublishedLists("ImageNet_LT_train.txt", "ImageNet_LT_val.txt",
                              "ImageNet_LT_test.txt", 1000),
        rank_ranges=((0, 390), (390, 835), (835, 1000)),
        description="ImageNet-LT (Liu et al. 2019 list files)"),
    "inat2018": DatasetSpec(
        loader=PublishedLists("iNaturalist18_train.txt", None, "iNaturalist18_val.txt",
                              8142),
        rank_ranges=((0, 842), (842, 4543), (4543, 8142)),
        description="iNaturalist 2018 (natively long-tailed; its val list is the test set)"),
}
USER_PREFIXES = ("folder:", "list:")


def registered_names() -> str:
    """What --dataset takes, for help texts and errors: the registered names (sorted),
    then the syntaxes of a user's own data."""
    return f"{', '.join(sorted(DATASETS))}, or folder:PATH, list:TRAIN.txt,TEST.txt"


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
        return load_folder(name, name[len("folder:"):], seed, images_per_class)
    if name.startswith("list:"):
        return load_lists(name, name[len("list:"):], data_dir, seed, images_per_class)
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}. Known: {registered_names()}.")
    spec = DATASETS[name]
    dataset = spec.loader(name, data_dir, imbalance_ratio, seed, images_per_class,
                          pretrain_images_per_class, val_per_class=val_per_class)
    dataset.rank_ranges = spec.rank_ranges
    return dataset
