"""RegionConv2D, RegionDense and EACNetROICentres: EAC-Net's per-region layers."""

import keras
import numpy as np
import pytest

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


def test_region_layers_config_round_trip():
    for layer in (RegionConv2D(5, 3, activation="relu"), RegionDense(4), EACNetROICentres()):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def test_roi_centres_equal_tfau_faces_and_pass_no_gradient():
    import tensorflow as tf

    landmarks = tf.constant(RNG.uniform(40, 180, (2, 49, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(landmarks)
        centres = EACNetROICentres()(landmarks)
    assert centres.shape == (2, faces.NUM_EACNET_CENTRES, 2)
    np.testing.assert_allclose(centres, faces.eacnet_roi_centres(landmarks), rtol=1e-6)
    assert tape.gradient(centres, landmarks) is None


def test_region_layers_save_and_load_with_safe_mode(tmp_path):
    inputs = keras.Input((3, 6, 6, 4))
    outputs = RegionDense(5)(RegionConv2D(4, 3, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    x = RNG.standard_normal((2, 3, 6, 6, 4)).astype(np.float32)
    path = str(tmp_path / "regions.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="`filters` must be a positive integer"):
        RegionConv2D(0)
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        RegionDense(-1)
    with pytest.raises(ValueError, match=r"expects \(batch, regions, height, width, channels\)"):
        RegionConv2D(4)(np.zeros((2, 6, 6, 3), np.float32))
    with pytest.raises(ValueError, match=r"landmarks of shape \(batch, 49, 2\)"):
        EACNetROICentres()(np.zeros((2, 10, 2), np.float32))
