import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau.layers import AttentionEnhance


def reference_resize(image, out_h, out_w, method):
    """Per-pixel half-pixel resize of a (h, w) map, as tf.image.resize does it."""
    h, w = image.shape
    out = np.empty((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            y = (i + 0.5) * h / out_h - 0.5
            x = (j + 0.5) * w / out_w - 0.5
            if method == "nearest":
                out[i, j] = image[
                    min(int(np.floor((i + 0.5) * h / out_h)), h - 1),
                    min(int(np.floor((j + 0.5) * w / out_w)), w - 1),
                ]
                continue
            y, x = min(max(y, 0.0), h - 1), min(max(x, 0.0), w - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - y0, x - x0
            out[i, j] = (
                image[y0, x0] * (1 - dy) * (1 - dx)
                + image[y0, x1] * (1 - dy) * dx
                + image[y1, x0] * dy * (1 - dx)
                + image[y1, x1] * dy * dx
            )
    return out


def reference_enhance(features, conv_branch, attention, method):
    attention = attention.reshape(attention.shape[:3])
    _, height, width, _ = features.shape
    resized = np.stack([reference_resize(a, height, width, method) for a in attention])
    return conv_branch + features * resized[..., None]


def _inputs(size=(6, 5), channels=3, map_size=(10, 10), seed=0, batch=2):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, *size, channels)).astype("float32")
    branch = rng.normal(size=(batch, *size, channels)).astype("float32")
    attention = rng.uniform(size=(batch, *map_size)).astype("float32")
    return features, branch, attention


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("map_size", [(10, 10), (4, 3), (6, 5)])
@pytest.mark.parametrize("with_channel_axis", [False, True])
def test_matches_numpy_reference(method, map_size, with_channel_axis):
    features, branch, attention = _inputs(map_size=map_size)
    if with_channel_axis:
        attention = attention[..., None]
    out = AttentionEnhance(interpolation=method)([features, branch, attention]).numpy()
    expected = reference_enhance(features, branch, attention, method)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_map_of_the_feature_size_is_applied_as_is():
    features, branch, attention = _inputs(map_size=(6, 5))
    out = AttentionEnhance()([features, branch, attention]).numpy()
    np.testing.assert_allclose(out, branch + features * attention[..., None], rtol=1e-6)


def test_area_resize_averages_blocks():
    features, branch, _ = _inputs(size=(2, 2), channels=1)
    attention = np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4)
    out = AttentionEnhance(interpolation="area")([features, branch, attention]).numpy()
    block_means = attention.reshape(2, 2, 2, 2, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(out, branch + features * block_means[..., None], rtol=1e-6)


def test_enet_sizes_one_map_for_both_groups():
    # E-Net: group3 = conv3_4 + conv3_1 * map(56), group4 = conv4_4 + conv4_1 * map(28).
    attention = np.random.default_rng(1).uniform(size=(1, 100, 100)).astype("float32")
    for size in (56, 28):
        features, branch, _ = _inputs(size=(size, size), channels=2, batch=1)
        out = AttentionEnhance()([features, branch, attention]).numpy()
        assert out.shape == (1, size, size, 2)
        expected = branch + features * tf.image.resize(attention[..., None], (size, size))
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_gradients_are_the_map_and_one():
    features, branch, attention = _inputs(map_size=(6, 5))
    features, branch = tf.constant(features), tf.constant(branch)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([features, branch])
        out = AttentionEnhance()([features, branch, attention])
        loss = tf.reduce_sum(out)
    np.testing.assert_allclose(
        tape.gradient(loss, features).numpy(),
        np.broadcast_to(attention[..., None], features.shape),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(tape.gradient(loss, branch).numpy(), np.ones(branch.shape))


def test_layer_harness():
    features, branch, attention = _inputs(size=(6, 6), map_size=(9, 9))
    loaded = run_layer_test(
        AttentionEnhance,
        {},
        [features, branch, attention],
        (2, 6, 6, 3),
        input_shape=[(None, None, 3), (None, None, 3), (None, None)],
        expected_num_trainable_weights=0,
        inputs_with_gradient=(0, 1, 2),
        mixed_precision_tolerance={"mixed_float16": 4e-3, "mixed_bfloat16": 3e-2},
        xla_tolerance=1e-6,
    )
    # Built for unknown sizes, the layer runs at a second size: the map is resized in the graph.
    small, small_branch, small_map = _inputs(size=(4, 4), map_size=(9, 9))
    assert loaded([small, small_branch, small_map]).shape == (2, 4, 4, 3)


def test_compute_output_shape():
    layer = AttentionEnhance()
    shape = layer.compute_output_shape([(None, 56, None, 8), (None, None, 56, 8), (None, 9, 9)])
    assert shape == (None, 56, 56, 8)


def test_bad_interpolation():
    with pytest.raises(ValueError, match=r"`interpolation` must be one of .*'cubic'"):
        AttentionEnhance(interpolation="cubic")


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ([(1, 6, 6, 3), (1, 6, 6, 3)], r"expects a list of 3 inputs"),
        ([(1, 6, 6, 3), (1, 6, 6, 4), (1, 9, 9)], r"same height, width and channels.*"),
        ([(1, 6, 6, 3), (1, 5, 6, 3), (1, 9, 9)], r"conv_branch shape=\(1, 5, 6, 3\)"),
        ([(1, 6, 6, 3), (1, 6, 6, 3), (1, 9, 9, 2)], r"attention shape=\(1, 9, 9, 2\)"),
        ([(1, 6, 3), (1, 6, 6, 3), (1, 9, 9)], r"must be \(batch, height, width, channels\)"),
    ],
)
def test_bad_input_shapes(shapes, message):
    inputs = [np.ones(shape, "float32") for shape in shapes]
    with pytest.raises(ValueError, match=message):
        AttentionEnhance()(inputs)
