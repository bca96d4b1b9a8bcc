"""Data: the long-tailed protocol, data-set sources and tf.data pipelines."""
