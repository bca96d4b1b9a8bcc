"""List files in the ImageNet-LT / Places-LT / iNaturalist format: ``<relative path> <label>``.

A list may be gzipped (``.txt.gz``). Paths are resolved under a data root. ImageNet's
validation images come in two layouts: ``val/<wnid>/<file>`` (as the lists name them) and
flat ``val/<file>``; both are found. Two loaders use them: the registered list-file
benchmarks (``PublishedLists``; Places-LT's lists ship with candle_tf in ``lists/``) and
``list:TRAIN,TEST``.
"""

import gzip
import os
import shutil
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.protocols import VAL_PER_CLASS, natively_long_tailed
from candle_tf.data.split import Split

MISSING_SHOWN = 5
# The published lists that ship with candle_tf, gzipped (package data).
LISTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lists")


class Listing(NamedTuple):
    """A parsed list file: relative paths, integer labels, and the 1-based line number of
    each entry in the file (blank lines are skipped, so entries and lines differ)."""

    paths: List[str]
    labels: np.ndarray
    lines: np.ndarray


def parse_list_file(path: str) -> Listing:
    """The entries of a list file; malformed lines are errors naming the file's line."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"List file {path} does not exist; pass the right path "
                                "(e.g. --data_root=DIR holding Places_LT_train.txt).")
    paths, labels, lines = [], [], []
    try:
        with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as handle:
            for number, line in enumerate(handle, 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                    raise ValueError(f"{path}:{number}: expected '<relative path> <integer "
                                     f"label>', got {line.strip()!r}.")
                paths.append(fields[0])
                labels.append(int(fields[1]))
                lines.append(number)
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a text list file ({error}); a gzipped list must be "
                         "a whole .txt.gz file, any other list plain text.") from error
    if not paths:
        raise ValueError(f"List file {path} names no images.")
    return Listing(paths, np.asarray(labels, dtype=np.int64), np.asarray(lines, dtype=np.int64))


def check_labels(labels: np.ndarray, num_classes: int, source: str,
                 lines: Optional[np.ndarray] = None) -> None:
    """Every label in [0, num_classes); names the first bad line otherwise (``lines``: each
    label's line in ``source``, from its Listing; without it, the label's position + 1)."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        line = lines[bad[0]] if lines is not None else bad[0] + 1
        raise ValueError(f"{source}:{line}: label {labels[bad[0]]} is outside "
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


def class_names_from_paths(paths, labels, num_classes: int) -> Tuple[str, ...]:
    """Each label's name: the parent folder of its first listed image."""
    names = [f"class_{label}" for label in range(num_classes)]
    seen = set()
    for path, label in zip(paths, labels):
        if label not in seen:
            seen.add(label)
            names[label] = os.path.basename(os.path.dirname(path)) or names[label]
    return tuple(names)


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Positions of the first ``per_class`` entries of every label, in list order
    (0 = all)."""
    labels = np.asarray(labels)
    if not per_class:
        return np.arange(len(labels))
    order = np.argsort(labels, kind="stable")
    ranked = labels[order]
    within = np.arange(len(labels)) - np.searchsorted(ranked, ranked, side="left")
    return np.sort(order[within < per_class])


def from_lists(name: str, train_list: str, val_list: Optional[str], test_list: str,
               image_root: str, num_classes: Optional[int], seed: int,
               images_per_class: int) -> LongTailedDataset:
    """A data set from list files (``<relative path> <label>`` per line).

    An ``images_per_class`` cap keeps the first that many listed images of every class
    in each list, so only those need to exist under ``image_root``. The many / medium /
    few groups come from the whole training list's class counts.
    """
    parsed = {split: parse_list_file(path) for split, path in
              (("train", train_list), ("val", val_list), ("test", test_list)) if path}
    num_classes = num_classes or int(parsed["train"].labels.max()) + 1
    splits = {}
    for split, listing in parsed.items():
        source = {"train": train_list, "val": val_list, "test": test_list}[split]
        check_labels(listing.labels, num_classes, source, listing.lines)
        keep = first_per_class(listing.labels, images_per_class)
        splits[split] = Split(None, listing.labels[keep], resolve_all(
            image_root, [listing.paths[i] for i in keep], source))
    names = class_names_from_paths(parsed["train"].paths, parsed["train"].labels, num_classes)
    return natively_long_tailed(
        name, splits["train"], splits.get("val"), splits["test"], names, 3, seed,
        published_counts=np.bincount(parsed["train"].labels, minlength=num_classes))


@dataclass(frozen=True)
class PublishedLists:
    """The registry's loader of a published list-file benchmark (Places-LT, ImageNet-LT,
    iNaturalist): its list files by name (``val`` None: a hold-out of the training split
    is the validation split) and its number of classes.

    Each list is read from --data_dir (``NAME`` or ``NAME.gz``), else from the copy that
    ships with candle_tf (``lists/NAME.gz``); the images from under --data_dir.
    """

    train: str
    val: Optional[str]
    test: str
    num_classes: int

    @property
    def files(self) -> Tuple[str, ...]:
        return tuple(f for f in (self.train, self.val, self.test) if f)

    def find(self, filename: str, data_dir: str = "") -> Optional[str]:
        """Where ``filename`` is read from: --data_dir, plain or gzipped, else the shipped
        copy; None if nowhere."""
        places = [os.path.join(data_dir, filename), os.path.join(data_dir, filename + ".gz")]
        for path in (places if data_dir else []) + [shipped_list(filename)]:
            if os.path.exists(path):
                return path
        return None

    def write(self, folder: str, name: str = "") -> List[str]:
        """Writes the shipped lists into ``folder`` as plain text; returns their paths. A
        list candle_tf does not ship, or a file already in ``folder``, is an error."""
        missing = [f for f in self.files if not os.path.exists(shipped_list(f))]
        if missing:
            raise FileNotFoundError(
                f"--write_lists: candle_tf ships no copy of {', '.join(missing)} ({name}); "
                "get them where README's \"The paper's benchmarks and your own data\" says.")
        targets = [os.path.join(folder, f) for f in self.files]
        existing = [t for t in targets if os.path.exists(t)]
        if existing:
            raise FileExistsError(f"--write_lists: {', '.join(existing)} already there; "
                                  "remove or move it, or pick another folder.")
        os.makedirs(folder, exist_ok=True)
        for filename, target in zip(self.files, targets):
            with gzip.open(shipped_list(filename), "rb") as source, \
                    open(target + ".partial", "wb") as handle:
                shutil.copyfileobj(source, handle)
            os.replace(target + ".partial", target)
        return targets

    def __call__(self, name, data_dir, imbalance_ratio, seed, images_per_class,
                 pretrain_images_per_class=0, val_per_class=VAL_PER_CLASS):
        # Natively long-tailed: nothing to pretrain on, and the published val list (or a
        # hold-out of the training split) is the validation split.
        if not data_dir:
            raise ValueError(f"--dataset={name} reads its images from --data_dir=DIR (the "
                             f"folder the relative paths of {self.train} start from; the "
                             "list files may be there too).")
        found = {f: self.find(f, data_dir) for f in self.files}
        missing = [f for f, path in found.items() if path is None]
        if missing:
            raise FileNotFoundError(
                f"--dataset={name}: {', '.join(missing)} not found in --data_dir={data_dir} "
                "(as .txt or .txt.gz), and candle_tf ships no copy; put the published "
                "list files there (README: \"The paper's benchmarks and your own data\").")
        shipped = [f for f, path in found.items() if path.startswith(LISTS_DIR)]
        if shipped:
            print(f"{name}: {', '.join(shipped)}: the published list(s) shipped with "
                  f"candle_tf ({LISTS_DIR}); a copy in --data_dir would be read instead.",
                  flush=True)
        lists = [found[f] if f else None for f in (self.train, self.val, self.test)]
        return from_lists(name, *lists, data_dir, self.num_classes, seed, images_per_class)


def shipped_list(filename: str) -> str:
    """The path of the gzipped copy of ``filename`` shipped with candle_tf (may not exist)."""
    return os.path.join(LISTS_DIR, filename + ".gz")


def load_lists(name: str, spec: str, data_dir: str, seed: int,
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
    return from_lists(name, train, val, test, root, None, seed, images_per_class)
