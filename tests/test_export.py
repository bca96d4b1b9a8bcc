"""Tests for candle_tf.export: conversions, op and MAC counts, LCE checks and parity, and the
TF Serving SavedModel."""

import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from candle_tf import export
from candle_tf.data.preprocess import eval_transform, to_channels
from candle_tf.export.interpreter import ARM_KERNELS, X86_KERNELS
from candle_tf.export.report import student_cost

SIZE, CHANNELS, NUM_BINARY = 16, 1, 3
CLASS_NAMES = ["top_left", "top_right", "bottom_left"]
CROP = 0.875

BINARY_CONV = dict(input_quantizer="approx_sign", kernel_quantizer="magnitude_aware_sign",
                   kernel_constraint="weight_clip", padding="same", pad_values=1.0,
                   use_bias=False)


def _synthetic(n, seed):
    """Raw pixels in [0, 255]; the label is which quadrant (of three) is bright."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.uniform(0, 80, (n, SIZE, SIZE, CHANNELS))
    for image, label in zip(images, labels):
        row, col = (label // 2) * 8, (label % 2) * 8
        image[row:row + 8, col:col + 8] += 150
    return images.astype(np.float32), labels


def _tiny_model(binary_convs=(BINARY_CONV,) * NUM_BINARY):
    inputs = tf.keras.Input((SIZE, SIZE, CHANNELS))
    x = tf.keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = tf.keras.layers.Conv2D(8, 3, padding="same")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    for kwargs in binary_convs:
        x = lq.layers.QuantConv2D(16, 3, **kwargs)(x)
        x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(len(CLASS_NAMES))(x))


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(0)
    model = _tiny_model()
    model.compile(tf.keras.optimizers.Adam(1e-2),
                  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images, labels = _synthetic(256, seed=0)
    model.fit(images, labels, batch_size=32, epochs=2, verbose=0)  # non-trivial BN stats
    return model


@pytest.fixture(scope="module")
def flatbuffer(model):
    return export.convert_to_lce(model)


@pytest.fixture(scope="module")
def export_dir(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    return Path(export.export_saved_model(model, base, "tiny", 3, CLASS_NAMES, SIZE, CHANNELS,
                                          crop_fraction=CROP))


def test_every_binary_conv_becomes_lce_bconv2d(model, flatbuffer):
    ops = export.count_tflite_ops(flatbuffer)
    assert ops["LceBconv2d"] == export.count_binary_convs(model) == NUM_BINARY
    assert ops["CONV_2D"] == 1 and ops["FULLY_CONNECTED"] == 1
    counts = export.check_binary_convs_converted(flatbuffer, model)
    assert counts["binary_convs"] == counts["lce_bconv2d"] == NUM_BINARY
    assert counts["ops"] == dict(ops)


def test_count_binary_convs_searches_nested_models(model):
    outer = tf.keras.Sequential([tf.keras.Input((SIZE, SIZE, CHANNELS)), model])
    assert export.count_binary_convs(outer) == NUM_BINARY


@pytest.mark.parametrize("input_quantizer, kernel_quantizer, binary", [
    ("approx_sign", "magnitude_aware_sign", True),
    ("ste_sign", "ste_sign", True),
    (lq.quantizers.ste_sign, lq.quantizers.approx_sign, True),  # plain functions
    (None, "magnitude_aware_sign", False),
    ("approx_sign", None, False),
    ("approx_sign", "ste_tern", False),
    ("approx_sign", lq.quantizers.NoOp(precision=1), False),
])
def test_count_binary_convs_needs_binary_input_and_kernel(input_quantizer, kernel_quantizer,
                                                          binary):
    conv = dict(BINARY_CONV, input_quantizer=input_quantizer, kernel_quantizer=kernel_quantizer)
    assert export.count_binary_convs(_tiny_model([conv])) == int(binary)


def test_zero_padding_and_bias_still_convert_in_lce_0_16():
    # LCE 0.16 corrects zero "same" padding and fuses a bias, so neither falls back to float.
    convs = [dict(BINARY_CONV, pad_values=0.0), dict(BINARY_CONV, use_bias=True)]
    model = _tiny_model(convs)
    counts = export.check_binary_convs_converted(export.convert_to_lce(model), model)
    assert counts["lce_bconv2d"] == 2


def _one_binary_conv(side, pad_values):
    inputs = tf.keras.Input((side, side, 32))
    conv = lq.layers.QuantConv2D(8, 3, **dict(BINARY_CONV, pad_values=pad_values))
    return tf.keras.Model(inputs, conv(inputs))


@pytest.mark.parametrize("side, pad_values, exact", [
    (2, 0.0, False), (2, 1.0, True), (4, 0.0, True), (4, 1.0, True)])
def test_lce_0_16_miscomputes_zero_padding_on_maps_smaller_than_the_kernel(side, pad_values,
                                                                           exact):
    # Why candle_tf.models.zoo pads binary convs with +1: zero "same" padding is emulated
    # by a correction that LCE 0.16 gets wrong when the input is smaller than the kernel.
    model = _one_binary_conv(side, pad_values)
    images = np.random.default_rng(0).normal(size=(4, side, side, 32)).astype(np.float32)
    parity = export.lce_parity(export.convert_to_lce(model), model, images)
    assert (parity["max_abs_logit_diff"] < 1e-4) == exact


def _heaviside_input_model():
    return _tiny_model([dict(BINARY_CONV, input_quantizer="ste_heaviside")])


def _binary_depthwise_model():
    inputs = tf.keras.Input((SIZE, SIZE, CHANNELS))
    x = tf.keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = lq.layers.QuantDepthwiseConv2D(
        3, input_quantizer="approx_sign", depthwise_quantizer="magnitude_aware_sign",
        depthwise_constraint="weight_clip", padding="same", pad_values=1.0, use_bias=False)(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(3)(x))


@pytest.mark.parametrize("build, explanation", [
    (_heaviside_input_model, "ste_heaviside"),
    (_binary_depthwise_model, "no binary depthwise kernel"),
])
def test_float_fallback_is_reported(build, explanation):
    model = build()
    flatbuffer = export.convert_to_lce(model)
    assert export.count_tflite_ops(flatbuffer)["LceBconv2d"] == 0
    with pytest.raises(RuntimeError, match="1 binary convolutions") as error:
        export.check_binary_convs_converted(flatbuffer, model)
    assert "0 LceBconv2d" in str(error.value) and "fell back to float" in str(error.value)
    assert explanation in str(error.value)


def test_float_macs_of_the_tflite_match_larq(model, flatbuffer):
    # The stem conv (16x16 outputs x 8 channels x 3x3x1) and the Dense head (16 -> 3);
    # the binary convs are LceBconv2d ops, not float MACs.
    expected = 16 * 16 * 8 * 9 * 1 + 16 * 3
    assert export.float_macs(flatbuffer) == expected
    cost = student_cost(model)
    assert cost["fp_macs"] == expected
    assert cost["binary_macs"] == 16 * 16 * 16 * 9 * 8 + 2 * 16 * 16 * 16 * 9 * 16
    assert cost["ops"] == cost["binary_macs"] / 64 + expected


def test_float_tflite_of_a_float_model_and_its_macs():
    inputs = [tf.keras.Input((12, 12, 3), name="view_a"), tf.keras.Input((6, 6, 3), name="view_b")]
    a = tf.keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs[0])  # 6x6x4
    b = tf.keras.layers.DepthwiseConv2D(3, padding="same")(inputs[1])  # 6x6x3
    x = tf.keras.layers.Concatenate()([a, b])
    logits = tf.keras.layers.Dense(5)(tf.keras.layers.GlobalAveragePooling2D()(x))
    float_model = tf.keras.Model(inputs, logits)
    flatbuffer = export.convert_to_float_tflite(float_model)
    expected = 6 * 6 * 4 * 27 + 6 * 6 * 3 * 9 + 7 * 5
    assert export.float_macs(flatbuffer) == expected == student_cost(float_model)["fp_macs"]
    assert export.count_tflite_ops(flatbuffer)["LceBconv2d"] == 0
    views = [np.random.default_rng(i).uniform(0, 255, (1, s, s, 3)).astype(np.float32)
             for i, s in enumerate((12, 6))]
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner()
    names = sorted(interpreter.get_signature_list()["serving_default"]["inputs"])
    output = runner(**dict(zip(names, views)))
    np.testing.assert_allclose(next(iter(output.values())), float_model(views), rtol=1e-4,
                               atol=1e-4)


def test_next_version(tmp_path):
    assert export.next_version(tmp_path, "tiny") == 1
    for name in ("1", "3", ".staging-4-abc", "notes"):
        (tmp_path / "tiny" / name).mkdir(parents=True)
    assert export.next_version(tmp_path, "tiny") == 4


def test_count_tflite_ops_rejects_other_bytes():
    with pytest.raises(ValueError, match="not a TFLite model"):
        export.count_tflite_ops(b"\x00" * 64)


def test_lce_matches_keras(model, flatbuffer):
    images, _ = _synthetic(200, seed=1)
    parity = export.lce_parity(flatbuffer, model, images, batch_size=50)
    assert parity["num_images"] == 200
    assert parity["agreement"] >= 0.995
    assert parity["max_abs_logit_diff"] < 1e-3


def test_lce_parity_rejects_wrong_shape(model, flatbuffer):
    with pytest.raises(ValueError, match=r"images has shape \(4, 8, 8, 1\)"):
        export.lce_parity(flatbuffer, model, np.zeros((4, 8, 8, 1), np.float32))


def test_lce_latency(flatbuffer):
    latency = export.lce_latency_ms(flatbuffer, (SIZE, SIZE, CHANNELS), runs=3)
    assert latency["runs"] == 3 and 0 < latency["median_ms"] < 1e3 and latency["mean_ms"] > 0
    on_x86 = platform.machine().lower() in ("x86_64", "amd64")
    assert latency["kernels"] == (X86_KERNELS if on_x86 else ARM_KERNELS)
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8, 1\)"):
        export.lce_latency_ms(flatbuffer, (8, 8, 1))


def test_export_rejects_bad_arguments(model, export_dir):
    base = export_dir.parent.parent
    with pytest.raises(ValueError, match="class_names has 2 names"):
        export.export_saved_model(model, base, "tiny", 4, CLASS_NAMES[:2], SIZE, CHANNELS)
    with pytest.raises(ValueError, match="image_size=32"):
        export.export_saved_model(model, base, "tiny", 4, CLASS_NAMES, 32, CHANNELS)
    with pytest.raises(FileExistsError, match="new version"):
        export.export_saved_model(model, base, "tiny", 3, CLASS_NAMES, SIZE, CHANNELS)
    assert sorted(p.name for p in export_dir.parent.iterdir()) == ["3"]


_SERVE_SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    export_dir, data_dir = sys.argv[1:]
    loaded = tf.saved_model.load(export_dir)
    serve = loaded.signatures["serving_default"]
    pixels_fn = loaded.signatures["predict_pixels"]
    encoded = [open(f"{data_dir}/{name}", "rb").read() for name in ("grey.png", "rgba.png",
                                                                    "rgb.jpg")]
    by_bytes = serve(images=tf.constant(encoded))
    pixels = tf.constant(json.load(open(f"{data_dir}/pixels.json")), tf.float32)
    by_pixels = pixels_fn(pixels=pixels)
    errors = {}
    bad_calls = {
        "images_not_1d": lambda: serve(images=tf.constant([[b"not", b"1-D"]])),
        "wrong_rank": lambda: pixels_fn(pixels=tf.zeros([16, 16, 1])),
        "wrong_dtype": lambda: pixels_fn(pixels=tf.zeros([1, 16, 16, 1], tf.int32)),
    }
    for name, call in bad_calls.items():
        try:
            call()
            errors[name] = None
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as error:
            errors[name] = type(error).__name__
    print(json.dumps({
        "modules": sorted(m for m in ("larq", "candle_tf", "larq_compute_engine")
                          if m in sys.modules),
        "bytes": {k: v.numpy().tolist() for k, v in by_bytes.items()},
        "pixels": {k: v.numpy().tolist() for k, v in by_pixels.items()},
        "errors": errors,
    }, default=bytes.decode))
""")


def _encoded_images():
    """PNG and JPEG bytes of random images by file name, and the pixels serving should
    make of them (decoded, alpha dropped, eval-transformed)."""
    rng = np.random.default_rng(2)
    raw = {
        "grey.png": rng.integers(0, 256, (20, 24, 1), dtype=np.uint8),
        "rgba.png": rng.integers(0, 256, (18, 18, 4), dtype=np.uint8),
        "rgb.jpg": rng.integers(0, 256, (30, 26, 3), dtype=np.uint8),
    }
    encoded, pixels = {}, []
    for name, image in raw.items():
        encode = tf.io.encode_jpeg if name.endswith(".jpg") else tf.io.encode_png
        encoded[name] = data = encode(image).numpy()
        decoded = tf.io.decode_image(data, expand_animations=False)[..., :3]  # drop alpha
        pixels.append(eval_transform(to_channels(decoded, CHANNELS), SIZE, CROP))
    return encoded, tf.stack(pixels)


def _keras_softmax(model, pixels):
    return tf.nn.softmax(model(pixels, training=False)).numpy()


def test_saved_model_serves_without_larq(model, export_dir, tmp_path):
    assert export_dir.name == "3" and export_dir.parent.name == "tiny"
    assert (export_dir / "saved_model.pb").is_file() and (export_dir / "variables").is_dir()

    encoded, expected_pixels = _encoded_images()
    for name, data in encoded.items():
        (tmp_path / name).write_bytes(data)
    plain_pixels, _ = _synthetic(4, seed=3)
    (tmp_path / "pixels.json").write_text(json.dumps(plain_pixels.tolist()))

    result = subprocess.run([sys.executable, "-c", _SERVE_SCRIPT, str(export_dir),
                             str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])

    assert served["modules"] == []
    for key, pixels in (("bytes", expected_pixels), ("pixels", plain_pixels)):
        expected = _keras_softmax(model, pixels)
        out = served[key]
        np.testing.assert_allclose(out["probabilities"], expected, atol=1e-4)
        assert out["class_id"] == expected.argmax(-1).tolist()
        assert out["class_name"] == [CLASS_NAMES[i] for i in out["class_id"]]
    assert served["bytes"]["valid"] == [True] * 3 and served["bytes"]["error"] == [""] * 3
    # A malformed request is a TensorFlow error in the caller, not an abort of the server.
    assert set(served["errors"]) == {"images_not_1d", "wrong_rank", "wrong_dtype"}
    for error in served["errors"].values():
        assert error in ("InvalidArgumentError", "TypeError", "ValueError")


@pytest.fixture(scope="module")
def signatures(export_dir):
    return tf.saved_model.load(str(export_dir)).signatures


def test_serving_answers_each_image_on_its_own(model, signatures):
    # One bad upload used to fail the whole request; now it gets valid=False and a message
    # in its own row, and the good images of the same batch their predictions.
    encoded, good_pixels = _encoded_images()
    png, jpg = encoded["grey.png"], encoded["rgb.jpg"]
    batch = [  # (bytes, expected error or None when valid)
        (png, None),
        (b"this is not an image", "not a PNG, JPEG, GIF or BMP image"),
        (jpg, None),
        (b"", "empty input"),
        (png[:len(png) // 2], "could not decode the PNG bytes"),  # truncated
        (jpg[:len(jpg) // 2], "could not decode the JPEG bytes"),
        (encoded["rgba.png"], None),
        (b"GIF89a", "could not decode the GIF bytes"),  # a header and nothing else
        (b"BM" + bytes(60), "could not decode the BMP bytes"),
    ]
    images = tf.constant([data for data, _ in batch])
    out = {k: v.numpy() for k, v in signatures["serving_default"](images=images).items()}

    valid = [error is None for _, error in batch]
    assert out["valid"].tolist() == valid
    good = np.flatnonzero(valid)  # rows 0, 2, 6 = grey.png, rgb.jpg, rgba.png
    expected = _keras_softmax(model, tf.gather(good_pixels, [0, 2, 1]))
    np.testing.assert_allclose(out["probabilities"][good], expected, atol=1e-4)
    assert out["class_id"][good].tolist() == expected.argmax(-1).tolist()
    assert [name.decode() for name in out["class_name"][good]] == \
        [CLASS_NAMES[i] for i in expected.argmax(-1)]
    for row, (_, error) in enumerate(batch):
        message = out["error"][row].decode()
        if error is None:
            assert message == ""
        else:
            assert message.startswith(error), (row, message)
            assert out["class_id"][row] == -1 and out["class_name"][row] == b""
            assert not out["probabilities"][row].any()


def test_serving_a_batch_with_nothing_to_predict(signatures):
    serve, pixels_fn = signatures["serving_default"], signatures["predict_pixels"]
    out = serve(images=tf.constant([b"", b"junk"]))
    assert out["valid"].numpy().tolist() == [False, False]
    assert out["probabilities"].shape == (2, len(CLASS_NAMES))
    assert out["class_id"].numpy().tolist() == [-1, -1]
    # Empty batches (batch norm alone would fail on them).
    for empty in (serve(images=tf.constant([], tf.string)),
                  pixels_fn(pixels=tf.zeros([0, SIZE, SIZE, CHANNELS]))):
        assert empty["probabilities"].shape == (0, len(CLASS_NAMES))
        assert all(value.shape[0] == 0 for value in empty.values())


@pytest.mark.slow
def test_saved_model_cli_shows_and_runs(export_dir, tmp_path):
    cli = str(Path(sys.executable).parent / "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", str(export_dir), "--all"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-3000:]
    for name in ("signature_def['serving_default']", "signature_def['predict_pixels']",
                 "inputs['images']", "inputs['pixels']", "outputs['probabilities']",
                 "outputs['class_id']", "outputs['class_name']", "outputs['valid']",
                 "outputs['error']"):
        assert name in shown.stdout
    # TF 2.15's saved_model_cli evaluates --input_exprs with ast.literal_eval: a nested list.
    pixels = np.full((2, SIZE, SIZE, CHANNELS), 200.0)
    ran = subprocess.run(
        [cli, "run", "--dir", str(export_dir), "--tag_set", "serve",
         "--signature_def", "predict_pixels", "--input_exprs", f"pixels={pixels.tolist()}"],
        capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "Result for output key class_name" in ran.stdout
    assert "Result for output key probabilities" in ran.stdout
    assert any(f"b'{name}'" in ran.stdout for name in CLASS_NAMES)
    # saved_model_cli runs the graph in a TF1 session, as TF Serving does. Image bytes go
    # in a .npy file (--input_exprs splits at every ";", which PNG bytes may hold).
    request = tmp_path / "request.npy"
    np.save(request, np.array([_encoded_images()[0]["grey.png"], b"junk"], dtype=object))
    ran = subprocess.run(
        [cli, "run", "--dir", str(export_dir), "--tag_set", "serve", "--signature_def",
         "serving_default", "--inputs", f"images={request}"],
        capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "Result for output key valid:\n[ True False]" in ran.stdout
    assert "b'not a PNG, JPEG, GIF or BMP image (unrecognised first bytes)'" in ran.stdout
