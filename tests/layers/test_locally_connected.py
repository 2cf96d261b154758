"""Tests for tfau.layers.LocallyConnected2D."""

import keras
import numpy as np
import pytest
from layer_harness import randomize_weights, run_layer_test

from tfau.layers import LocallyConnected2D

SHAPE = (9, 8, 3)


def numpy_locally_connected(x, kernel, bias, kernel_size, strides, padding):
    """Every output position: its own window of the (padded) input times its own kernel."""
    (kh, kw), (sh, sw) = kernel_size, strides
    height, width = x.shape[1:3]
    out_h, out_w = kernel.shape[:2]
    if padding == "same":
        pad_h = max((out_h - 1) * sh + kh - height, 0)
        pad_w = max((out_w - 1) * sw + kw - width, 0)
        x = np.pad(
            x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
        )
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :].reshape(x.shape[0], -1)
            out[:, i, j, :] = window @ kernel[i, j]
            if bias is not None:
                out[:, i, j, :] += bias[i, j]
    return out


def inputs(batch: int = 2, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, *SHAPE)).astype("float32")


@pytest.mark.parametrize(
    ("kernel_size", "strides", "padding", "use_bias", "out_hw"),
    [
        (3, 1, "valid", True, (7, 6)),
        ((3, 2), (2, 1), "valid", False, (4, 7)),
        (3, 2, "same", True, (5, 4)),
        ((2, 4), (1, 3), "same", True, (9, 3)),
        (1, 1, "valid", True, (9, 8)),
    ],
)
def test_matches_numpy_reference(kernel_size, strides, padding, use_bias, out_hw):
    layer = LocallyConnected2D(4, kernel_size, strides=strides, padding=padding, use_bias=use_bias)
    layer.build((None, *SHAPE))
    randomize_weights(layer)
    x = inputs()
    got = layer(x)
    assert tuple(got.shape) == (2, *out_hw, 4)
    assert layer.compute_output_shape((None, *SHAPE)) == (None, *out_hw, 4)
    expected = numpy_locally_connected(
        x,
        layer.kernel.numpy(),
        layer.bias.numpy() if use_bias else None,
        layer.kernel_size,
        layer.strides,
        padding,
    )
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(("strides", "padding"), [(1, "valid"), (2, "same")])
def test_shared_kernels_reproduce_conv2d(strides, padding):
    conv = keras.layers.Conv2D(5, 3, strides=strides, padding=padding)
    conv.build((None, *SHAPE))
    randomize_weights(conv)
    layer = LocallyConnected2D(5, 3, strides=strides, padding=padding)
    layer.build((None, *SHAPE))
    out_h, out_w = layer.kernel.shape[:2]
    layer.kernel.assign(np.broadcast_to(conv.kernel.numpy().reshape(27, 5), (out_h, out_w, 27, 5)))
    layer.bias.assign(np.broadcast_to(conv.bias.numpy(), (out_h, out_w, 5)))
    x = inputs()
    np.testing.assert_allclose(layer(x), conv(x), atol=1e-5)


def test_weights_are_unshared_per_position():
    layer = LocallyConnected2D(2, 3)
    layer.build((None, *SHAPE))
    kernel = layer.kernel.numpy()
    assert kernel.shape == (7, 6, 27, 2)
    assert layer.bias.shape == (7, 6, 2)
    assert not np.allclose(kernel[0, 0], kernel[3, 2])
    assert layer.count_params() == 7 * 6 * (27 * 2 + 2)


def test_kernel_initializer_uses_the_fans_of_one_position():
    layer = LocallyConnected2D(8, 3, kernel_initializer=keras.initializers.HeNormal(seed=1))
    layer.build((None, 16, 16, 8))
    kernel = layer.kernel.numpy()
    assert abs(kernel.std() - np.sqrt(2.0 / (9 * 8))) < 0.05 * np.sqrt(2.0 / (9 * 8))


def test_activation_is_applied():
    layer = LocallyConnected2D(4, 3, activation="relu")
    layer.build((None, *SHAPE))
    randomize_weights(layer)
    x = inputs()
    expected = numpy_locally_connected(
        x, layer.kernel.numpy(), layer.bias.numpy(), (3, 3), (1, 1), "valid"
    )
    np.testing.assert_allclose(layer(x), np.maximum(expected, 0.0), atol=1e-4)


def test_layer_harness():
    loaded = run_layer_test(
        LocallyConnected2D,
        dict(
            filters=4,
            kernel_size=(3, 2),
            strides=(2, 1),
            padding="SAME",
            activation="relu",
            kernel_initializer="he_normal",
            kernel_regularizer=keras.regularizers.L2(5e-4),
        ),
        inputs(),
        (2, 5, 8, 4),
        expected_num_trainable_weights=2,
        mixed_precision_tolerance={"mixed_float16": 3e-3, "mixed_bfloat16": 2e-2},
        xla_gradient_check=True,
        xla_tolerance=1e-4,
    )
    assert (loaded.kernel_size, loaded.strides, loaded.padding) == ((3, 2), (2, 1), "same")
    assert loaded.activation is keras.activations.relu
    assert loaded.compute_output_shape((None, None, None, 3)) == (None, None, None, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"filters": 0, "kernel_size": 3},
            r"`filters` must be a positive integer. Received: filters=0",
        ),
        (
            {"filters": 4, "kernel_size": 0},
            r"`kernel_size` must be a positive integer or a pair .* kernel_size=0",
        ),
        ({"filters": 4, "kernel_size": (3, 3, 3)}, r"Received: kernel_size=\(3, 3, 3\)"),
        ({"filters": 4, "kernel_size": 3, "strides": (1, 0)}, r"Received: strides=\(1, 0\)"),
        (
            {"filters": 4, "kernel_size": 3, "padding": "full"},
            r'`padding` must be "valid" or "same". Received: padding=\'full\'',
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocallyConnected2D(**kwargs)


def test_unusable_input_shapes_are_named():
    with pytest.raises(
        ValueError, match=r"known height, width and channels.*input_shape=\(None, None, 8, 3\)"
    ):
        LocallyConnected2D(4, 3).build((None, None, 8, 3))
    with pytest.raises(ValueError, match=r"kernel_size=\(5, 5\), height=4, width=9"):
        LocallyConnected2D(4, 5).build((None, 4, 9, 3))
