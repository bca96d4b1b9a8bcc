"""ReActNet-A: published cost, shapes, LCE-ready binary convs, serialisation, two-step recipe."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from candle_tf import export
from candle_tf.models.reactnet import block_widths, reactnet_a
from candle_tf.models.layers import LearnableBias, RPReLU

NUM_BLOCKS = 13
NUM_DOUBLING_BLOCKS = 5  # 32->64, 64->128, 128->256, 256->512, 512->1024
SMALL = dict(input_shape=(28, 28, 1), num_classes=10, width_multiplier=0.25, stem_stride=1)


@pytest.fixture(scope="module")
def model_224():
    return reactnet_a((224, 224, 3), num_classes=1000)


def _small(**kwargs):
    return reactnet_a(**{**SMALL, **kwargs})


def _randomise(model, seed=0):
    """Non-trivial values everywhere (positive BN variances) so comparisons mean something."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if "moving_variance" in v.name:
            v.assign(rng.uniform(0.5, 1.5, v.shape))
        else:
            v.assign(rng.normal(0.0, 0.5, v.shape))


def _quant_convs(model):
    return [layer for layer in model.layers if isinstance(layer, lq.layers.QuantConv2D)]


def _images(n=2, shape=SMALL["input_shape"], seed=1):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def _hand_count_binary_macs():
    """Per block at 224 px: 3x3 in->in plus the 1x1 convs (in*out in all), times output pixels."""
    ins = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024)
    outs = ins[1:] + (1024,)
    sides = (112, 56, 56, 28, 28, 14, 14, 14, 14, 14, 14, 7, 7)
    return sum(s * s * (9 * i * i + i * o) for i, o, s in zip(ins, outs, sides))


def test_cost_at_224_matches_published(model_224):
    profile = lq.models.ModelProfile(model_224)
    binary_macs = profile.op_count("mac", 1)
    fp_macs = profile.op_count("mac", 32)
    # ReActNet paper, Table 3: 4.82e9 BOPs, 0.12e8 FLOPs. larq counts a binary conv as 1-bit
    # MACs and the stem + Dense as 32-bit MACs (BN, pooling and adds count no MACs).
    assert binary_macs == _hand_count_binary_macs() == 4_816_896_000
    assert binary_macs == pytest.approx(4.82e9, rel=0.03)
    assert fp_macs == 112 * 112 * 27 * 32 + 1024 * 1000  # stem + Dense weights
    assert fp_macs == pytest.approx(0.12e8, rel=0.03)
    # Parameters, commonly reported as 29.3 M. larq's count drops BN's gamma/beta (folded
    # into the moving statistics), so it is 4 numbers per BN channel below Keras's count.
    assert profile.weight_count(bitwidth=1) == 28_253_184  # sum of 9*in*in + in*out
    assert profile.weight_count() == pytest.approx(29.3e6, rel=0.03)


def test_output_shapes_at_224(model_224):
    assert model_224.output_names == ["logits", "features"]
    assert [tuple(t.shape) for t in model_224.outputs] == [(None, 1000), (None, 7, 7, 1024)]
    sides = [model_224.get_layer(f"block{i}_rprelu2").output.shape[1] for i in (1, 2, 4, 6, 12)]
    assert sides == [112, 56, 28, 14, 7]


def test_small_input_shapes():
    model = _small()
    logits, features = model(_images(3))
    assert logits.shape == (3, 10)
    assert features.shape == (3, 2, 2, 256)
    sides = [model.get_layer(f"block{i}_rprelu2").output.shape[1] for i in range(1, 14)]
    assert sides == [28, 14, 14, 7, 7, 4, 4, 4, 4, 4, 4, 2, 2]  # odd 7 -> 4 like "same" convs


@pytest.mark.parametrize("width", [0.25, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0])
def test_widths_are_multiples_of_8_and_keep_or_double(width):
    widths = block_widths(width)
    assert len(widths) == NUM_BLOCKS + 1
    assert all(c % 8 == 0 and c >= 8 for c in widths)
    assert all(b in (a, 2 * a) for a, b in zip(widths[:-1], widths[1:]))


def test_block_widths_rounding():
    assert block_widths(1.0) == (32, 64, 128, 128, 256, 256, *[512] * 6, 1024, 1024)
    assert block_widths(0.25)[0] == 8 and block_widths(0.1)[0] == 8
    assert block_widths(0.75)[-1] == 768


def test_binary_convs_are_lce_ready(model_224):
    convs = _quant_convs(model_224)
    assert len(convs) == 2 * NUM_BLOCKS + NUM_DOUBLING_BLOCKS
    assert sum(c.kernel_size == (3, 3) for c in convs) == NUM_BLOCKS
    assert [c.name for c in convs if c.strides == (2, 2)] == [
        f"block{i}_conv3x3" for i in (2, 4, 6, 12)
    ]
    for conv in convs:
        assert conv.padding == "same" and conv.pad_values == 1.0 and not conv.use_bias
        assert isinstance(conv.input_quantizer, lq.quantizers.ApproxSign)
        assert isinstance(conv.kernel_quantizer, lq.quantizers.MagnitudeAwareSign)
        assert isinstance(conv.kernel_constraint, lq.constraints.WeightClip)
    # Only the stem is a full-precision conv.
    fp_convs = [l.name for l in model_224.layers if type(l) is tf.keras.layers.Conv2D]
    assert fp_convs == ["stem_conv"]


def test_lce_converts_every_binary_conv():
    model = _small(input_shape=(8, 8, 3), width_multiplier=0.25)
    logits = tf.keras.Model(model.input, model.outputs[0])
    ops = export.count_tflite_ops(export.convert_to_lce(logits))
    assert ops["LceBconv2d"] == 2 * NUM_BLOCKS + NUM_DOUBLING_BLOCKS
    assert ops["CONV_2D"] == 1  # the stem
    assert ops["PRELU"] == 2 * NUM_BLOCKS  # every RPReLU's slope fuses into one op


def test_rprelu_and_learnable_bias_values():
    x = tf.constant([[-2.0, 0.5], [1.0, -0.5]])
    bias = LearnableBias()
    rprelu = RPReLU()
    bias.build(x.shape)
    rprelu.build(x.shape)
    bias.set_weights([np.array([0.5, -1.0])])
    rprelu.set_weights([np.array([1.0, -1.0]), np.array([0.1, 0.2]), np.array([0.0, 3.0])])
    np.testing.assert_allclose(bias(x), [[-1.5, -0.5], [1.5, -1.5]])
    # PReLU(x + bias_in) + bias_out with slopes 0.1 and 0.2.
    np.testing.assert_allclose(rprelu(x), [[-0.1, 2.9], [2.0, 2.7]], rtol=1e-6)
    assert np.allclose(RPReLU().get_config()["alpha_initializer"]["config"]["value"], 0.25)


def test_keras_save_and_load_give_identical_outputs(tmp_path):
    model = _small()
    _randomise(model)
    images = _images()
    expected = model(images, training=False)
    path = str(tmp_path / "reactnet.keras")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    for want, got in zip(expected, loaded(images, training=False)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert isinstance(loaded.get_layer("block1_bias1"), LearnableBias)
    assert isinstance(loaded.get_layer("block1_rprelu2"), RPReLU)
    quantizer = loaded.get_layer("block1_conv3x3").kernel_quantizer
    assert isinstance(quantizer, lq.quantizers.MagnitudeAwareSign)


def test_two_step_recipe_carries_weights():
    step1 = _small(binary_weights=False)
    step2 = _small(binary_weights=True)
    for conv in _quant_convs(step1):
        assert isinstance(conv.input_quantizer, lq.quantizers.ApproxSign)
        assert conv.kernel_quantizer is None and conv.kernel_constraint is None
    _randomise(step1)
    assert [l.name for l in step1.layers] == [l.name for l in step2.layers]
    step2.set_weights(step1.get_weights())
    for a, b in zip(step1.weights, step2.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Same variables, different forward: step 2 binarises the weights it was given.
    images = _images()
    assert not np.allclose(step1(images)[0], step2(images)[0])


def test_gradient_flows_through_sign():
    model = _small()
    images = _images(4)
    labels = tf.constant([0, 3, 5, 9])
    with tf.GradientTape() as tape:
        logits, features = model(images, training=True)
        loss = tf.reduce_mean(
            tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        ) + tf.reduce_mean(tf.square(features))
    stem = model.get_layer("stem_conv").kernel
    # block1_bias1 reaches the loss only through the first sign: ApproxSign must pass it on.
    threshold = model.get_layer("block1_bias1").bias
    kernel = model.get_layer("block1_conv3x3").kernel
    grads = tape.gradient(loss, [stem, threshold, kernel])
    assert all(g is not None and np.count_nonzero(g.numpy()) > 0 for g in grads)
