import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau.layers import ROICrop


def reference_crop(feature_map, centres, crop_size, output_size, image_size, method):
    """Loop over images and centres: cell lookup, clamped window, resize of the window."""
    batch, height, width, channels = feature_map.shape
    image_h, image_w = image_size
    k, s = crop_size, output_size
    out = np.zeros((batch, centres.shape[1], s, s, channels), np.float64)
    for b in range(batch):
        for r, (x, y) in enumerate(centres[b].astype(np.float64)):
            row = min(max(int(np.floor((y + 0.5) * height / image_h)), 0), height - 1)
            col = min(max(int(np.floor((x + 0.5) * width / image_w)), 0), width - 1)
            top = min(max(row - (k - 1) // 2, 0), height - k)
            left = min(max(col - (k - 1) // 2, 0), width - k)
            window = feature_map[b, top : top + k, left : left + k].astype(np.float64)
            for i in range(s):
                for j in range(s):
                    if method == "nearest":
                        si = min(int(np.floor((i + 0.5) * k / s)), k - 1)
                        sj = min(int(np.floor((j + 0.5) * k / s)), k - 1)
                        out[b, r, i, j] = window[si, sj]
                        continue
                    py = min(max((i + 0.5) * k / s - 0.5, 0.0), k - 1)
                    px = min(max((j + 0.5) * k / s - 0.5, 0.0), k - 1)
                    y0, x0 = int(np.floor(py)), int(np.floor(px))
                    y1, x1 = min(y0 + 1, k - 1), min(x0 + 1, k - 1)
                    dy, dx = py - y0, px - x0
                    out[b, r, i, j] = (
                        window[y0, x0] * (1 - dy) * (1 - dx)
                        + window[y0, x1] * (1 - dy) * dx
                        + window[y1, x0] * dy * (1 - dx)
                        + window[y1, x1] * dy * dx
                    )
    return out


def _inputs(batch=2, size=(7, 9), channels=3, regions=5, image_size=(56, 72), seed=0):
    rng = np.random.default_rng(seed)
    feature_map = rng.normal(size=(batch, *size, channels)).astype("float32")
    # Centres cover the image, its borders and a little outside it (clamping).
    xs = rng.uniform(-10, image_size[1] + 10, size=(batch, regions))
    ys = rng.uniform(-10, image_size[0] + 10, size=(batch, regions))
    centres = np.stack([xs, ys], axis=-1).astype("float32")
    return feature_map, centres


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
@pytest.mark.parametrize(
    ("crop_size", "output_size"), [(3, 6), (3, 3), (2, 5), (4, 3), (1, 2), (3, 7)]
)
def test_matches_numpy_reference(method, crop_size, output_size):
    feature_map, centres = _inputs()
    layer = ROICrop(crop_size, output_size, image_size=(56, 72), interpolation=method)
    out = layer([feature_map, centres]).numpy()
    expected = reference_crop(feature_map, centres, crop_size, output_size, (56, 72), method)
    assert out.shape == expected.shape
    if method == "nearest":
        np.testing.assert_array_equal(out, expected.astype("float32"))
    else:
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_eac_net_x2_upscaling_repeats_each_cell():
    feature_map, _ = _inputs(batch=1, size=(28, 28), channels=2)
    centres = np.array([[[100.0, 60.0]]], "float32")  # cell (row 7, col 12) of 224 -> 28
    out = ROICrop(3, 6, 224)([feature_map, centres]).numpy()[0, 0]
    window = feature_map[0, 6:9, 11:14]
    np.testing.assert_array_equal(out, np.repeat(np.repeat(window, 2, axis=0), 2, axis=1))


def test_centre_to_cell_mapping_and_clamping():
    # 224 -> 28: cell c holds pixels 8c .. 8c+7; pixel 7 is in cell 0, 7.6 rounds to pixel 8.
    feature_map = np.arange(28 * 28, dtype="float32").reshape(1, 28, 28, 1)
    layer = ROICrop(1, 1, 224)
    centres = np.array([[[7.4, 0.0], [7.6, 0.0], [223.0, 223.0], [-50.0, 500.0]]], "float32")
    cells = layer([feature_map, centres]).numpy().reshape(-1)
    np.testing.assert_array_equal(cells, [0, 1, 27 * 28 + 27, 27 * 28])
    # A 3 x 3 window at a corner is shifted inside the map, not shrunk.
    corner = ROICrop(3, 3, 224)([feature_map, np.array([[[0.0, 0.0]]], "float32")])
    np.testing.assert_array_equal(corner.numpy()[0, 0, ..., 0], feature_map[0, :3, :3, 0])


def test_bilinear_equals_resizing_the_crop_with_tensorflow():
    feature_map, centres = _inputs(size=(8, 8), image_size=(64, 64))
    out = ROICrop(3, 6, 64, interpolation="bilinear")([feature_map, centres]).numpy()
    nearest = ROICrop(3, 3, 64)([feature_map, centres]).numpy()  # the raw windows
    windows = nearest.reshape(-1, 3, 3, 3)
    resized = tf.image.resize(windows, (6, 6), method="bilinear").numpy()
    np.testing.assert_allclose(out.reshape(-1, 6, 6, 3), resized, rtol=1e-5, atol=1e-6)


def test_non_square_image_size():
    feature_map, centres = _inputs(size=(6, 12), image_size=(48, 120))
    out = ROICrop(3, 6, image_size=(48, 120))([feature_map, centres]).numpy()
    expected = reference_crop(feature_map, centres, 3, 6, (48, 120), "nearest")
    np.testing.assert_array_equal(out, expected.astype("float32"))


def test_gradient_reaches_exactly_the_cropped_cells():
    feature_map, centres = _inputs(batch=1, regions=3)
    fm = tf.constant(feature_map)
    with tf.GradientTape() as tape:
        tape.watch(fm)
        loss = tf.reduce_sum(ROICrop(3, 6, (56, 72))([fm, centres]))
    gradient = tape.gradient(loss, fm).numpy()
    # Each window cell is repeated 2 x 2 times; overlapping windows add up.
    expected = np.zeros(feature_map.shape)
    for x, y in centres[0]:
        row = min(max(int(np.floor((y + 0.5) * 7 / 56)), 0), 6)
        col = min(max(int(np.floor((x + 0.5) * 9 / 72)), 0), 8)
        top, left = min(max(row - 1, 0), 4), min(max(col - 1, 0), 6)
        expected[0, top : top + 3, left : left + 3] += 4.0
    np.testing.assert_array_equal(gradient, expected)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_layer_harness(method):
    loaded = run_layer_test(
        ROICrop,
        dict(crop_size=3, output_size=6, image_size=(56, 72), interpolation=method),
        list(_inputs()),
        (2, 5, 6, 6, 3),
        input_shape=[(None, None, 3), (None, 2)],
        expected_num_trainable_weights=0,
        inputs_with_gradient=(0,),  # the centres only choose the cells
        mixed_precision_tolerance={"mixed_float16": 3e-3, "mixed_bfloat16": 2e-2},
        xla_tolerance=1e-6,
    )
    assert loaded.image_size == (56, 72)


def test_compute_output_shape():
    assert ROICrop(3, 6).compute_output_shape([(None, 28, 28, 512), (None, 20, 2)]) == (
        None,
        20,
        6,
        6,
        512,
    )


@pytest.mark.parametrize(
    ("policy", "dtype"), [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")]
)
@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_mixed_precision_keeps_centres_in_float32(policy, dtype, method):
    feature_map = np.random.default_rng(2).normal(size=(1, 28, 28, 2)).astype("float32")
    # float16(199.45) = 199.5 would move this centre from cell 24 to cell 25.
    centres = np.array([[[199.45, 199.45], [40.0, 100.0]]], "float32")
    expected = ROICrop(3, 6, 224, interpolation=method)([feature_map, centres])
    keras.config.set_dtype_policy(policy)
    out = ROICrop(3, 6, 224, interpolation=method)([feature_map, centres])
    assert out.dtype == dtype
    tol = 0 if method == "nearest" else 3e-2
    np.testing.assert_allclose(
        tf.cast(out, "float32").numpy(),
        tf.cast(tf.cast(expected, dtype), "float32").numpy(),
        atol=tol,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(crop_size=0), r"`crop_size` must be a positive integer. Received: crop_size=0"),
        (dict(crop_size=2.0), r"Received: crop_size=2.0"),
        (dict(output_size=-1), r"`output_size` must be a positive integer. .*output_size=-1"),
        (dict(image_size=(224,)), r"`image_size` must be .* Received: image_size=\(224,\)"),
        (dict(image_size=(224, 0)), r"Received: image_size=\(224, 0\)"),
        (dict(interpolation="area"), r"`interpolation` must be one of .*'area'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ROICrop(**kwargs)


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ([(1, 2, 8, 3), (1, 4, 2)], r"height must be at least `crop_size`.*height=2"),
        ([(1, 8, 8, 3), (1, 4, 3)], r"`centres` must be \(batch, num_regions, 2\).*\(1, 4, 3\)"),
        ([(1, 8, 3), (1, 4, 2)], r"`feature_map` must be \(batch, height, width, channels\)"),
        ([(1, 8, 8, 3)], r"expects a list of 2 inputs"),
    ],
)
def test_bad_input_shapes(shapes, message):
    inputs = [np.ones(shape, "float32") for shape in shapes]
    with pytest.raises(ValueError, match=message):
        ROICrop(3, 6)(inputs)
