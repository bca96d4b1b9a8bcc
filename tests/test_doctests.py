"""The ``>>>`` examples in the docstrings of candle_tf and trainers run and hold."""

import doctest
import importlib
import os

import pytest

from tests.conftest import REPO


def modules_with_examples() -> list:
    names = []
    for package in ("candle_tf", "trainers"):
        for folder, _, files in os.walk(os.path.join(REPO, package)):
            for name in sorted(files):
                path = os.path.join(folder, name)
                if name.endswith(".py") and name != "__main__.py":
                    with open(path) as handle:
                        if ">>>" in handle.read():
                            module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                            names.append(module.removesuffix(".__init__"))
    return names


def test_there_are_examples():
    assert {"candle_tf.config", "candle_tf.models.layers"} <= set(modules_with_examples())


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
