"""--select: KeepBestWeights keeps the best validation epoch, survives a restart, and
--select=last leaves the last epoch's weights; every trainer logs val_balanced_accuracy."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.config import RunConfig
from candle_tf.losses import CrossEntropy
from candle_tf.metrics import BalancedAccuracy
from candle_tf.config import check_settings
from candle_tf.fitting import fit_resumable
from candle_tf.selection import BEST_RECORD, LAST_RECORD, KeepBestWeights, selection_result
from trainers.baselines import LabelTrainer
from tests.test_training import Interrupt
from trainers.calibrate import CalibrationTrainer


def tiny_model():
    return tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])


def set_weights(model, value):
    model.set_weights([np.full(w.shape, value, np.float32) for w in model.get_weights()])


def read(directory, name):
    with open(os.path.join(directory, name)) as handle:
        return json.load(handle)


def drive(keeper, model, epochs_values_weights):
    """Runs on_epoch_end as fit would, with the model's weights set for each epoch."""
    for epoch, value, weight in epochs_values_weights:
        set_weights(model, weight)
        keeper.on_epoch_end(epoch, {"val_balanced_accuracy": value, "val_accuracy": value / 2})


def test_keeps_the_epoch_with_the_best_value(tmp_path):
    model, directory = tiny_model(), str(tmp_path / "best")
    keeper = KeepBestWeights({"student": model}, directory)
    drive(keeper, model, [(0, 0.2, 1.0), (1, 0.5, 2.0), (2, 0.3, 3.0)])
    assert read(directory, BEST_RECORD)["epoch"] == 2
    assert read(directory, BEST_RECORD)["value"] == pytest.approx(0.5)
    assert read(directory, LAST_RECORD)["epoch"] == 3
    kept = keeper.restore()
    assert kept["epoch"] == 2
    for weights in model.get_weights():
        np.testing.assert_array_equal(weights, 2.0)
    assert sorted(os.listdir(directory)) == [BEST_RECORD, LAST_RECORD, "student.weights.h5"]
    result = selection_result(str(tmp_path), "best_val")
    assert result == {"select": "best_val", "selected_epoch": 2, "last_epoch": 3,
                      "val_balanced_accuracy": pytest.approx(0.5),
                      "val_accuracy": pytest.approx(0.25),
                      "last_val_balanced_accuracy": pytest.approx(0.3),
                      "last_val_accuracy": pytest.approx(0.15)}


def test_equal_value_does_not_replace_the_best(tmp_path):
    model, directory = tiny_model(), str(tmp_path / "best")
    keeper = KeepBestWeights({"student": model}, directory)
    drive(keeper, model, [(0, 0.5, 1.0), (1, 0.5, 2.0)])
    assert read(directory, BEST_RECORD)["epoch"] == 1


def test_a_new_instance_resumes_from_best_json(tmp_path):
    model, directory = tiny_model(), str(tmp_path / "best")
    drive(KeepBestWeights({"student": model}, directory), model, [(0, 0.2, 1.0), (1, 0.5, 2.0)])

    resumed = KeepBestWeights({"student": model}, directory)  # after a restart
    assert resumed.best["value"] == pytest.approx(0.5)
    resumed.on_epoch_begin(2)  # a resumed fit starts past epoch 0: the best is kept
    drive(resumed, model, [(2, 0.4, 3.0)])
    assert read(directory, BEST_RECORD)["epoch"] == 2
    resumed.restore()
    np.testing.assert_array_equal(model.get_weights()[0], 2.0)
    drive(resumed, model, [(3, 0.6, 4.0)])
    assert read(directory, BEST_RECORD)["epoch"] == 4
    set_weights(model, 0.0)
    resumed.restore()
    np.testing.assert_array_equal(model.get_weights()[0], 4.0)


def test_a_fit_started_from_scratch_drops_an_old_best(tmp_path):
    model, directory = tiny_model(), str(tmp_path / "best")
    drive(KeepBestWeights({"student": model}, directory), model, [(0, 0.9, 1.0)])
    fresh = KeepBestWeights({"student": model}, directory)
    fresh.on_epoch_begin(0)
    drive(fresh, model, [(0, 0.3, 5.0)])
    assert read(directory, BEST_RECORD)["value"] == pytest.approx(0.3)


def test_an_interrupted_save_rolls_forward_or_back(tmp_path):
    model, directory = tiny_model(), str(tmp_path / "best")
    drive(KeepBestWeights({"student": model}, directory), model, [(0, 0.2, 1.0)])
    # Killed while writing epoch 2's weights: the partial file is dropped, epoch 1 stays.
    set_weights(model, 2.0)
    model.save_weights(os.path.join(directory, "student.writing.weights.h5"))
    keeper = KeepBestWeights({"student": model}, directory)
    assert keeper.best["epoch"] == 1
    assert not os.path.exists(os.path.join(directory, "student.writing.weights.h5"))
    keeper.restore()
    np.testing.assert_array_equal(model.get_weights()[0], 1.0)
    # Killed after the journal was written: the save is completed.
    set_weights(model, 3.0)
    model.save_weights(os.path.join(directory, "student.writing.weights.h5"))
    with open(os.path.join(directory, "best.next.json"), "w") as handle:
        json.dump({"epoch": 3, "value": 0.7, "monitor": "val_balanced_accuracy", "logs": {}},
                  handle)
    keeper = KeepBestWeights({"student": model}, directory)
    assert keeper.best["epoch"] == 3 and read(directory, BEST_RECORD)["epoch"] == 3
    set_weights(model, 0.0)
    keeper.restore()
    np.testing.assert_array_equal(model.get_weights()[0], 3.0)


class RecordWeights(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights, self.values = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.values.append(logs["val_balanced_accuracy"])


class CompiledBalancedAccuracy(BalancedAccuracy):
    """For ``compile(metrics=...)``, which passes a sample_weight."""

    def update_state(self, labels, logits, sample_weight=None):
        super().update_state(labels, logits)


def fit_tiny(tmp_path, select, epochs=4, recorder=None, extra=()):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=32) > 0).astype("int64")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    tf.keras.utils.set_random_seed(0)
    model = tiny_model()
    model.compile(optimizer=tf.keras.optimizers.SGD(0.5),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[CompiledBalancedAccuracy(2)])
    recorder = recorder or RecordWeights()
    fit_resumable(model, data.repeat(), stage="test", stage_dir=str(tmp_path),
                  tensorboard_dir=str(tmp_path / "tb"), epochs=epochs, steps_per_epoch=1,
                  validation=data.take(1), callbacks=[recorder, *extra], verbose=0,
                  select=select,
                  keep={"model": model})
    return model, recorder


def assert_weights_equal(model, weights):
    for actual, expected in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(actual, expected)


def test_fit_best_val_ends_with_the_best_epoch(tmp_path):
    model, recorder = fit_tiny(tmp_path, "best_val")
    best = int(np.argmax(recorder.values))  # the first of equal values
    assert best != len(recorder.values) - 1  # so that the test tells best from last
    assert_weights_equal(model, recorder.weights[best])
    result = selection_result(str(tmp_path), "best_val")
    assert result["selected_epoch"] == best + 1 and result["last_epoch"] == 4
    assert result["val_balanced_accuracy"] == pytest.approx(max(recorder.values))


def test_an_interrupted_fit_selects_over_all_its_epochs(tmp_path):
    recorder = RecordWeights()
    with pytest.raises(KeyboardInterrupt):
        fit_tiny(tmp_path, "best_val", recorder=recorder, extra=[Interrupt(at_epoch=2)])
    assert len(recorder.values) == 2 and os.path.exists(tmp_path / "best" / BEST_RECORD)
    model, recorder = fit_tiny(tmp_path, "best_val", recorder=recorder)  # resumes at epoch 3
    assert len(recorder.values) == 4
    best = int(np.argmax(recorder.values))
    assert_weights_equal(model, recorder.weights[best])
    assert selection_result(str(tmp_path), "best_val")["selected_epoch"] == best + 1


def test_fit_last_leaves_the_last_epoch(tmp_path):
    model, recorder = fit_tiny(tmp_path, "last")
    assert_weights_equal(model, recorder.weights[-1])
    assert os.listdir(tmp_path / "best") == [LAST_RECORD]  # no weights kept
    result = selection_result(str(tmp_path), "last")
    assert result["selected_epoch"] == result["last_epoch"] == 4
    assert result["val_balanced_accuracy"] == pytest.approx(recorder.values[-1])


def test_select_bogus_is_refused():
    with pytest.raises(ValueError, match=r"--select=bogus: use one of best_val, last"):
        check_settings(RunConfig(select="bogus"))


def logits_network(name):
    pixels = tf.keras.Input((4,), name=name)
    features = tf.keras.layers.Dense(3)(pixels)
    return tf.keras.Model(pixels, [tf.keras.layers.Dense(3)(features), features])


@pytest.mark.parametrize("make", [
    lambda: LabelTrainer(logits_network("student"), CrossEntropy()),
    lambda: CalibrationTrainer(logits_network("teacher_0"), CrossEntropy(), ["teacher_0"]),
], ids=["LabelTrainer", "CalibrationTrainer"])
def test_logits_trainers_report_balanced_accuracy(make):
    trainer = make()
    trainer.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    view = trainer.network.input_names[0]
    x = np.random.default_rng(0).normal(size=(12, 4)).astype("float32")
    y = np.array([0] * 8 + [1] * 3 + [2], "int64")
    data = tf.data.Dataset.from_tensor_slices(({view: x}, y)).batch(6)
    results = trainer.evaluate(data, return_dict=True, verbose=0)
    predictions = np.argmax(trainer.network.predict(x, verbose=0)[0], -1)
    expected = np.mean([np.mean(predictions[y == c] == c) for c in range(3)])
    assert results["balanced_accuracy"] == pytest.approx(expected)
    history = trainer.fit(data, validation_data=data, epochs=1, verbose=0)
    assert "val_balanced_accuracy" in history.history


@pytest.mark.parametrize("select, score", [("best_val", None), ("last", 0.3)])
def test_tuner_scores_the_epoch_select_keeps(select, score):
    from candle_tf.tune import DistillationHyperModel

    class Fitted:
        def fit(self, *args, **kwargs):
            history = tf.keras.callbacks.History()
            history.history = {"val_balanced_accuracy": [0.2, 0.5, 0.3]}
            return history

    hypermodel = DistillationHyperModel.__new__(DistillationHyperModel)
    hypermodel.config = RunConfig(select=select)
    result = hypermodel.fit(None, Fitted())
    if score is None:  # Keras Tuner scores a History by its best epoch
        assert isinstance(result, tf.keras.callbacks.History)
    else:
        assert result == {"val_balanced_accuracy": pytest.approx(score)}
