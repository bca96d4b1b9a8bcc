"""List-file and image-folder sources, on the real published Places-LT / ImageNet-LT lists."""

import glob
import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.data import list_files
from candle_tf.data.stats import statistics
from candle_tf.data.registry import load_dataset
from candle_tf.data.lt_protocol import frequency_order
from candle_tf.metrics import long_tailed_report, shot_groups
from tests.data.places_lt_sample import lay_places_lt
from tests.data.test_fashion_mnist_lt import UNTRAINED

# The published Places-LT / ImageNet-LT lists (facebookresearch/classifier-balancing, data/),
# gzipped so that the repository carries them: Places-LT's ship with candle_tf.
PUBLISHED = os.path.join(os.path.dirname(__file__), "published")


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    """A folder holding the published list files, unpacked."""
    folder = tmp_path_factory.mktemp("lists")
    for packed in glob.glob(os.path.join(PUBLISHED, "*.txt.gz")) + glob.glob(
            os.path.join(list_files.LISTS_DIR, "*.txt.gz")):
        with gzip.open(packed, "rb") as source:
            (folder / os.path.basename(packed)[:-3]).write_bytes(source.read())
    return str(folder)


def write_image(path, value=128, size=12, kind="png"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = tf.fill([size, size, 3], tf.constant(value, tf.uint8))
    data = tf.io.encode_png(pixels) if kind == "png" else tf.io.encode_jpeg(pixels)
    tf.io.write_file(path, data)


def test_places_lt_lists_have_the_published_counts(lists):
    train = list_files.parse_list_file(os.path.join(lists, "Places_LT_train.txt")).labels
    val = list_files.parse_list_file(os.path.join(lists, "Places_LT_val.txt")).labels
    test = list_files.parse_list_file(os.path.join(lists, "Places_LT_test.txt")).labels
    counts = np.bincount(train, minlength=365)
    assert len(train) == 62500 and counts.max() == 4980 and counts.min() == 5
    assert {k: len(v) for k, v in shot_groups(counts).items()} == {
        "many": 131, "medium": 163, "few": 71}
    assert np.bincount(val).tolist() == [20] * 365
    assert np.bincount(test).tolist() == [100] * 365
    order = frequency_order(train, 365)
    assert counts[order[0]] == 4980 and (np.diff(counts[order]) <= 0).all()


def test_gzipped_lists_read_as_the_plain_ones(lists):
    for name in ("Places_LT_val.txt", "ImageNet_LT_val.txt"):
        packed = glob.glob(os.path.join(PUBLISHED, name + ".gz")) or [
            list_files.shipped_list(name)]
        plain = list_files.parse_list_file(os.path.join(lists, name))
        gzipped = list_files.parse_list_file(packed[0])
        assert gzipped.paths == plain.paths and len(plain.paths) > 7000
        assert np.array_equal(gzipped.labels, plain.labels)
        assert np.array_equal(gzipped.lines, plain.lines)


def test_a_broken_gzipped_list_is_a_clear_error(tmp_path):
    packed = tmp_path / "train.txt.gz"
    with open(list_files.shipped_list("Places_LT_val.txt"), "rb") as handle:
        packed.write_bytes(handle.read()[:5000])  # cut short
    with pytest.raises(ValueError, match="train.txt.gz is not a text list file"):
        list_files.parse_list_file(str(packed))
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00 1\n")
    with pytest.raises(ValueError, match="binary.txt is not a text list file"):
        list_files.parse_list_file(str(tmp_path / "binary.txt"))


def test_imagenet_lt_lists_have_the_published_counts(lists):
    val = list_files.parse_list_file(os.path.join(lists, "ImageNet_LT_val.txt")).labels
    test = list_files.parse_list_file(os.path.join(lists, "ImageNet_LT_test.txt")).labels
    assert np.bincount(val).tolist() == [20] * 1000
    assert np.bincount(test).tolist() == [50] * 1000


def test_imagenet_nested_and_flat_val_layouts_resolve(lists, tmp_path):
    relatives = list_files.parse_list_file(os.path.join(lists, "ImageNet_LT_test.txt")).paths
    sample = relatives[::5000]  # 10 listed paths, val/<wnid>/<file>
    for i, relative in enumerate(sample):
        wnid_free = os.path.join("val", os.path.basename(relative))
        write_image(str(tmp_path / (relative if i % 2 else wnid_free)))
    resolved = list_files.resolve_all(str(tmp_path), sample, "ImageNet_LT_test.txt")
    assert all(os.path.exists(p) for p in resolved)
    assert sum("/n0" in p or "/n1" in p for p in resolved) == 5  # half nested, half flat


@pytest.fixture
def places_sample(lists, tmp_path):
    """Tiny images at a real sample of Places-LT's listed paths, and lists of that sample."""
    lines = {}
    for split, keep in (("train", 50), ("val", 10), ("test", 50)):
        with open(os.path.join(lists, f"Places_LT_{split}.txt")) as handle:
            listed = [line for line in handle.read().splitlines() if int(line.split()[1]) < 8]
        # Every keep-th image of labels 0-7: class sizes keep their published order.
        by_label = {}
        for line in listed:
            by_label.setdefault(line.split()[1], []).append(line)
        lines[split] = [line for group in by_label.values() for line in group[::keep]]
    for split, sample in lines.items():
        for line in sample:
            write_image(str(tmp_path / line.split()[0]), kind="jpeg")
        (tmp_path / f"{split}.txt").write_text("\n".join(sample) + "\n")
    return tmp_path, lines


def test_list_dataset_loads_reindexes_and_skips_corrupt_images(places_sample):
    root, lines = places_sample
    corrupt = root / lines["train"][3].split()[0]
    corrupt.write_bytes(b"not an image")
    dataset = load_dataset(f"list:{root}/train.txt,{root}/val.txt,{root}/test.txt",
                           data_dir=str(root))
    assert dataset.skipped == {"train": 1, "val": 0, "test": 0}
    assert len(dataset.train) == len(lines["train"]) - 1
    assert len(dataset.test) == len(lines["test"])
    counts = dataset.train_counts
    assert (np.diff(counts) <= 0).all() and counts[0] > counts[-1]  # rank 0 = most frequent
    original = {line.split()[0].split("/")[1] for line in lines["train"]}
    assert set(dataset.class_names) <= original
    assert dataset.channels == 3 and dataset.source_train is None


def test_list_errors_name_the_file_line_and_fix(tmp_path):
    bad_label = tmp_path / "train.txt"
    write_image(str(tmp_path / "a" / "x.png"))
    bad_label.write_text("a/x.png 0\na/x.png 7\n")
    (tmp_path / "test.txt").write_text("a/x.png 0\n")
    with pytest.raises(ValueError, match=r"train.txt:2: label 7 is outside \[0, 2\)"):
        list_files.check_labels(np.array([0, 7]), 2, str(bad_label))
    missing = tmp_path / "missing.txt"
    missing.write_text("".join(f"a/gone_{i}.png 0\n" for i in range(7)))
    with pytest.raises(FileNotFoundError, match="7 of 7 listed images are missing"):
        load_dataset(f"list:{missing},{tmp_path / 'test.txt'}", data_dir=str(tmp_path))
    (tmp_path / "broken.txt").write_text("a/x.png zero\n")
    with pytest.raises(ValueError, match="broken.txt:1: expected"):
        list_files.parse_list_file(str(tmp_path / "broken.txt"))


def test_errors_name_the_line_of_the_file_after_blank_lines(tmp_path):
    write_image(str(tmp_path / "a" / "x.png"))
    write_image(str(tmp_path / "b" / "y.png"))
    # 12 entries, 2 blank lines, then the bad entry on the file's line 15.
    good = "".join(f"{'a/x.png 0' if i % 2 else 'b/y.png 1'}\n" for i in range(12))
    (tmp_path / "train.txt").write_text(good + "\n\n" + "a/x.png 0\n")
    (tmp_path / "test.txt").write_text(good + "\n  \n" + "a/x.png 7\n" + "b/y.png 1\n")
    listing = list_files.parse_list_file(str(tmp_path / "test.txt"))
    assert listing.lines[-3:].tolist() == [12, 15, 16] and len(listing.paths) == 14
    with pytest.raises(ValueError, match=r"test.txt:15: label 7 is outside \[0, 2\) \(1 such"):
        load_dataset(f"list:{tmp_path / 'train.txt'},{tmp_path / 'test.txt'}")
    (tmp_path / "test.txt").write_text(good + "\n\n" + "a/x.png seven\n")
    with pytest.raises(ValueError, match=r"test.txt:15: expected '<relative path> <integer"):
        load_dataset(f"list:{tmp_path / 'train.txt'},{tmp_path / 'test.txt'}")
    (tmp_path / "test.txt").write_text(good)
    (tmp_path / "train.txt").write_text(good + "\n\n" + "a/x.png -1\n")
    with pytest.raises(ValueError, match=r"train.txt:15: label -1 is outside"):
        load_dataset(f"list:{tmp_path / 'train.txt'},{tmp_path / 'test.txt'}")


def test_image_folder_dataset(tmp_path):
    per_class = {"cat": 30, "dog": 50, "emu": 12}
    for split, scale in (("train", 1), ("test", 0)):
        for name, count in per_class.items():
            for i in range(count if scale else 4):
                write_image(str(tmp_path / split / name / f"{i}.png"), value=i)
    dataset = load_dataset(f"folder:{tmp_path}")
    # dog (50) > cat (30) > emu (12); validation: up to 20, at most a tenth of each class.
    assert dataset.class_names == ("dog", "cat", "emu")
    assert dataset.train_counts.tolist() == [45, 27, 11]
    assert np.bincount(dataset.val.labels).tolist() == [5, 3, 1]
    assert np.bincount(dataset.test.labels).tolist() == [4, 4, 4]


def test_a_class_without_readable_training_images_is_an_error(tmp_path):
    for name in ("ok", "bad"):
        write_image(str(tmp_path / "test" / name / "0.png"))
    for i in range(3):
        write_image(str(tmp_path / "train" / "ok" / f"{i}.png"))
    (tmp_path / "train" / "bad").mkdir()
    (tmp_path / "train" / "bad" / "0.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError) as error:
        load_dataset(f"folder:{tmp_path}")
    # The same refusal as a derived set's (tests/data/test_fashion_mnist_lt.py).
    assert UNTRAINED.match(str(error.value)).groups() == (
        f"folder:{tmp_path}", "1", "bad", "0", "add readable images of it or remove the class")


PLACES_LT_GROUPS = {"many": 131, "medium": 163, "few": 71}


def test_capped_places_lt_keeps_the_published_groups(tmp_path, capsys):
    # Images only for the first 2 listed entries of each class: all a cap of 2 reads. The
    # lists themselves come from the copies shipped with candle_tf.
    assert lay_places_lt(str(tmp_path), 2) == {"Places_LT_train.txt": 730,
                                               "Places_LT_val.txt": 730,
                                               "Places_LT_test.txt": 730}
    dataset = load_dataset("places_lt", data_dir=str(tmp_path), images_per_class=2)
    assert "shipped with candle_tf" in capsys.readouterr().out
    assert dataset.train_counts.tolist() == [2] * 365 and len(dataset.test) == 730
    assert dataset.skipped == {"train": 0, "val": 0, "test": 0}
    # The groups of the published list (4980 ... 5 per class), not of the capped 2 per class.
    assert statistics(dataset)["many_medium_few"] == PLACES_LT_GROUPS
    assert dataset.group_counts.sum() == 62500 and dataset.group_counts.max() == 4980
    report = long_tailed_report(dataset.test.labels, dataset.test.labels, dataset.group_counts,
                                dataset.rank_ranges)
    assert report["group_sizes"] == PLACES_LT_GROUPS
    assert report["many"] == report["medium"] == report["few"] == 1.0
    # The class names follow the labels: a class's group is that of its published count.
    train = list_files.parse_list_file(list_files.shipped_list("Places_LT_train.txt"))
    published = dict(zip(list_files.class_names_from_paths(train.paths, train.labels, 365),
                         np.bincount(train.labels)))
    assert [published[n] for n in dataset.class_names] == dataset.group_counts.tolist()
