"""The experiment harness: long-tailed baselines, CANDLE and its ablations on the same binary
student, over several seeds, with a table and plots (``python -m candle_tf.experiments``)."""
