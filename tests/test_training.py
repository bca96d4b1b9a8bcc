"""fit_resumable resumes an interrupted stage from its last completed epoch; schedules."""

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.fitting import cosine_schedule, fit_resumable


class Interrupt(tf.keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch, self.epochs_begun = at_epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs_begun.append(epoch)
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated interruption")


def tiny_model():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def dataset():
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int64"))).batch(8)\
        .repeat()


def test_interrupted_stage_resumes_at_the_next_epoch(tmp_path):
    kwargs = dict(stage="test", stage_dir=str(tmp_path), tensorboard_dir=str(tmp_path / "tb"),
                  epochs=5, steps_per_epoch=4, verbose=0)
    first = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(first, dataset(), callbacks=[Interrupt(at_epoch=3)], **kwargs)
    second = tiny_model()
    watcher = Interrupt(at_epoch=-1)
    fit_resumable(second, dataset(), callbacks=[watcher], **kwargs)
    assert watcher.epochs_begun == [3, 4]  # epochs 0-2 were checkpointed and not redone
    assert int(second.optimizer.iterations) == 5 * 4


def test_non_finite_loss_stops_with_the_step_and_last_values(tmp_path):
    model = tiny_model()
    model.layers[0].kernel.assign(tf.fill([4, 2], float("nan")))
    with pytest.raises(FloatingPointError, match="epoch 1, step 1.*lower the learning rate"):
        fit_resumable(model, dataset(), stage="test", stage_dir=str(tmp_path),
                      tensorboard_dir=str(tmp_path / "tb"), epochs=1, steps_per_epoch=2,
                      verbose=0)


def test_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    schedule = cosine_schedule(peak=1.0, total_steps=110, warmup_steps=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    assert values[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert values[3] == pytest.approx(0.5)             # half-way through the decay
    assert values[4:] == pytest.approx([0.0, 0.0], abs=1e-6)
    no_warmup = cosine_schedule(peak=2.0, total_steps=100)
    assert [float(no_warmup(s)) for s in (0, 50, 100)] == pytest.approx([2.0, 1.0, 0.0],
                                                                         abs=1e-6)
