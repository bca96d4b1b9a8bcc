"""The registry: one module names the data sets; loaders and protocols do not know names."""

import ast
import importlib
import os

import pytest

from candle_tf.data import registry
from candle_tf.data.registry import DATASETS, known_dataset, registered_names

DATA_PACKAGE = os.path.dirname(registry.__file__)


def test_registered_names_lists_every_name_sorted_then_the_user_syntaxes():
    text = registered_names()
    names = text.split(", or ")[0].split(", ")
    assert names == sorted(DATASETS) and "places_lt" in names and "fashion_mnist_lt" in names
    assert text.endswith(", or folder:PATH, list:TRAIN.txt,TEST.txt")
    for name in names + ["folder:/x", "list:a.txt,b.txt"]:
        assert known_dataset(name)
    assert not known_dataset("places")
    with pytest.raises(ValueError, match=f"Unknown data set 'places'. Known: {registered_names()}"):
        registry.load_dataset("places")


def test_old_module_is_gone_and_only_the_registry_imports_the_registry():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("candle_tf.data.datasets")
    for file in os.listdir(DATA_PACKAGE):
        if not file.endswith(".py") or file in ("registry.py", "__main__.py"):
            continue
        with open(os.path.join(DATA_PACKAGE, file)) as handle:
            tree = ast.parse(handle.read())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "candle_tf.data.registry" not in imported, file  # no loop back to the names
