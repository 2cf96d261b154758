"""RegionConv2D, RegionDense and EACNetROICentres: EAC-Net's per-region layers."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from tfau import faces
from tfau.layers import EACNetROICentres, RegionConv2D, RegionDense

RNG = np.random.default_rng(0)


def test_region_conv2d_matches_a_per_region_numpy_convolution():
    x = RNG.standard_normal((2, 3, 6, 5, 4)).astype(np.float32)
    layer = RegionConv2D(7, 3, activation="relu")
    out = np.asarray(layer(x))
    assert out.shape == (2, 3, 4, 3, 7)
    kernel = layer.kernel.numpy().reshape(3, 3, 3, 4, 7)  # (regions, kh, kw, in, out)
    bias = layer.bias.numpy()
    expected = np.zeros_like(out)
    for r in range(3):
        for i in range(4):
            for j in range(3):
                window = x[:, r, i : i + 3, j : j + 3, :]
                expected[:, r, i, j] = np.einsum("bhwc,hwcf->bf", window, kernel[r]) + bias[r]
    np.testing.assert_allclose(out, np.maximum(expected, 0), rtol=1e-5, atol=1e-5)
    # Each region has its own kernel: same numbers as a Conv2D given that region's kernel.
    conv = keras.layers.Conv2D(7, 3, activation="relu")
    conv.build((None, 6, 5, 4))
    conv.set_weights([kernel[1], bias[1]])
    np.testing.assert_allclose(out[:, 1], conv(x[:, 1]), rtol=1e-5, atol=1e-5)


def test_region_dense_matches_per_region_matrices():
    x = RNG.standard_normal((2, 4, 3, 5)).astype(np.float32)
    layer = RegionDense(6)
    out = np.asarray(layer(x))
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    assert kernel.shape == (4, 15, 6)
    expected = np.stack([x[:, r].reshape(2, 15) @ kernel[r] + bias[r] for r in range(4)], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_region_layers_initialise_with_per_region_fans():
    layer = RegionDense(150, kernel_initializer=keras.initializers.GlorotUniform(seed=1))
    layer.build((None, 20, 8192))
    limit = np.sqrt(6 / (8192 + 150))  # one region's Glorot limit, not 20 regions'
    kernel = layer.kernel.numpy()
    assert kernel.max() <= limit and kernel.max() > 0.99 * limit


@pytest.mark.parametrize(
    ("layer_cls", "kwargs", "shape", "output_shape"),
    [
        (
            RegionConv2D,
            dict(filters=4, kernel_size=3, activation="relu"),
            (3, 6, 5, 4),
            (3, 4, 3, 4),
        ),
        (RegionDense, dict(units=5), (3, 4, 4, 4), (3, 5)),
    ],
)
def test_layer_harness(layer_cls, kwargs, shape, output_shape):
    run_layer_test(
        layer_cls,
        kwargs,
        RNG.standard_normal((2, *shape)).astype(np.float32),
        (2, *output_shape),
        expected_num_trainable_weights=2,
    )


def test_roi_centres_layer_harness():
    run_layer_test(
        EACNetROICentres,
        {},
        RNG.uniform(40, 180, (2, 49, 2)).astype(np.float32),
        (2, faces.NUM_EACNET_CENTRES, 2),
        expected_num_trainable_weights=0,
        run_training_check=False,  # no weights, no gradient (tested below)
        run_mixed_precision_check=False,  # float32 by design (tested below)
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_roi_centres_stay_float32_under_mixed_precision(policy):
    landmarks = RNG.uniform(40, 180, (2, 49, 2)).astype(np.float32)
    keras.config.set_dtype_policy(policy)
    centres = EACNetROICentres()(landmarks)
    assert centres.dtype == "float32"
    np.testing.assert_allclose(centres, faces.eacnet_roi_centres(landmarks), rtol=1e-6)
    # The symbolic output promises what the eager one is, so a functional model's next layer
    # (and its saved spec) sees float32 too.
    inputs = keras.Input((49, 2))
    symbolic = EACNetROICentres()(inputs)
    assert symbolic.dtype == "float32"
    assert keras.Model(inputs, symbolic)(landmarks).dtype == "float32"


def test_roi_centres_equal_tfau_faces_and_pass_no_gradient():
    import tensorflow as tf

    landmarks = tf.constant(RNG.uniform(40, 180, (2, 49, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(landmarks)
        centres = EACNetROICentres()(landmarks)
    assert centres.shape == (2, faces.NUM_EACNET_CENTRES, 2)
    np.testing.assert_allclose(centres, faces.eacnet_roi_centres(landmarks), rtol=1e-6)
    assert tape.gradient(centres, landmarks) is None


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="`filters` must be a positive integer"):
        RegionConv2D(0)
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        RegionDense(-1)
    with pytest.raises(ValueError, match=r"expects \(batch, regions, height, width, channels\)"):
        RegionConv2D(4)(np.zeros((2, 6, 6, 3), np.float32))
    with pytest.raises(ValueError, match=r"landmarks of shape \(batch, 49, 2\)"):
        EACNetROICentres()(np.zeros((2, 10, 2), np.float32))
