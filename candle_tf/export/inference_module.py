"""A Keras model's variables and inference call as a ``tf.Module``, for lean SavedModels."""

import functools

import tensorflow as tf


class InferenceModule(tf.Module):
    """Tracks only ``model``'s variables and calls it with ``training=False``.

    Saving the Keras model itself serialises (and traces) every Keras layer, minutes for
    the large larq-zoo students; a module holding the variables saves one traced function.
    """

    def __init__(self, model: tf.keras.Model):
        super().__init__()
        self._variables = list(model.variables)
        self.infer = functools.partial(model, training=False)
