"""CANDLE for TensorFlow / Keras / Larq: binary students for long-tailed data."""

__version__ = "0.1.0"
