"""Tests for tfau.layers.RegionLayer (DRML's region layer)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import numpy_conv_same, randomize_weights, run_layer_test

from tfau.layers import RegionLayer

GRID = 4
SHAPE = (16, 16, 4)


def region_reference(x: np.ndarray, layer: RegionLayer, training: bool = False) -> np.ndarray:
    """DRML's region layer, one patch at a time, from the layer's weights."""
    unit = layer.patch_convolution
    bn = unit.batch_norm
    kernel, bias = unit.kernel.numpy(), unit.bias.numpy()
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    g, c = layer.grid_size, x.shape[-1]
    ph, pw = x.shape[1] // g, x.shape[2] // g
    out = np.array(x, dtype=np.float64)
    for i in range(g):
        for j in range(g):
            cell = slice((i * g + j) * c, (i * g + j + 1) * c)
            rows, cols = slice(i * ph, (i + 1) * ph), slice(j * pw, (j + 1) * pw)
            patch = x[:, rows, cols, :].astype(np.float64)
            if training:
                mean, var = patch.mean(axis=(0, 1, 2)), patch.var(axis=(0, 1, 2))
            else:
                mean, var = bn.moving_mean.numpy()[cell], bn.moving_variance.numpy()[cell]
            h = (patch - mean) / np.sqrt(var + bn.epsilon) * gamma[cell] + beta[cell]
            h = np.maximum(h, 0.0)
            out[:, rows, cols, :] += numpy_conv_same(h, kernel[..., cell], bias[cell])
    return out


def inputs(batch: int = 2, shape=SHAPE, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype("float32")


def built_layer(**kwargs) -> RegionLayer:
    layer = RegionLayer(grid_size=kwargs.pop("grid_size", GRID), **kwargs)
    layer.build((None, *SHAPE))
    randomize_weights(layer)
    return layer


def test_inference_matches_numpy_patch_loop():
    layer = built_layer()
    x = inputs()
    np.testing.assert_allclose(layer(x, training=False), region_reference(x, layer), atol=1e-4)


def test_training_uses_per_patch_batch_statistics_and_updates_them():
    layer = built_layer(momentum=0.5)
    x = inputs(batch=3)
    bn = layer.patch_convolution.batch_norm
    before_mean, before_variance = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    expected = region_reference(x, layer, training=True)
    np.testing.assert_allclose(layer(x, training=True), expected, atol=1e-4)
    g, c = GRID, SHAPE[-1]
    patches = x.reshape(3, g, 4, g, 4, c).transpose(1, 3, 5, 0, 2, 4).reshape(g * g * c, -1)
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), 0.5 * before_mean + 0.5 * patches.mean(-1), atol=1e-5
    )
    np.testing.assert_allclose(
        bn.moving_variance.numpy(), 0.5 * before_variance + 0.5 * patches.var(-1), atol=1e-5
    )


def test_kernel_size_five_matches_numpy_patch_loop():
    layer = built_layer(kernel_size=5)
    x = inputs()
    np.testing.assert_allclose(layer(x, training=False), region_reference(x, layer), atol=1e-4)


@pytest.mark.parametrize("training", [False, True])
def test_perturbing_one_patch_changes_only_that_patch(training):
    layer = built_layer()
    x = inputs()
    perturbed = x.copy()
    perturbed[:, 4:8, 8:12, :] += np.random.default_rng(2).normal(size=(2, 4, 4, 4))
    change = np.abs(layer(perturbed, training=training) - layer(x, training=training)).max(-1)
    inside = np.zeros(SHAPE[:2], bool)
    inside[4:8, 8:12] = True
    assert np.all(change[:, ~inside] == 0.0)
    assert np.all(change[:, inside] > 0.0)


def count_ops(grid_size: int) -> int:
    layer = RegionLayer(grid_size=grid_size)
    layer.build((None, 16, 16, 4))

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True))
        return tape.gradient(loss, layer.trainable_variables)

    graph = train_step.get_concrete_function(tf.TensorSpec((2, 16, 16, 4))).graph
    return len(graph.get_operations())


def test_graph_op_count_does_not_grow_with_the_grid():
    # A per-patch loop would add dozens of ops per cell (60 more cells from 2 x 2 to 8 x 8);
    # the grouped layout adds none. Without oneDNN (AMD CPUs) the portable gradient's einsum
    # lowers to one transpose more or less depending on the group count: allow 4 ops.
    assert abs(count_ops(8) - count_ops(2)) <= 4


@pytest.mark.parametrize("c1", [2, 8])
def test_patch_convolution_parameters_match_jaanet_formula(c1):
    # JAA-Net section 4.3: DRML's region layer with 4 c1 channels holds 9216 c1^2 + 256 c1
    # kernel and bias parameters (591,872 for 32 channels).
    layer = RegionLayer(grid_size=8)
    layer.build((None, 160, 160, 4 * c1))
    unit = layer.patch_convolution
    assert unit.kernel.shape == (3, 3, 4 * c1, 64 * 4 * c1)
    count = int(np.prod(unit.kernel.shape) + np.prod(unit.bias.shape))
    assert count == 9216 * c1**2 + 256 * c1
    if c1 == 8:
        assert count == 591_872


def test_kernel_initializer_uses_the_fans_of_one_patch():
    layer = RegionLayer(grid_size=8, kernel_initializer=keras.initializers.GlorotUniform(seed=3))
    layer.build((None, 16, 16, 8))
    kernel = layer.patch_convolution.kernel.numpy()
    limit = np.sqrt(6.0 / (9 * 8 + 9 * 8))  # one patch's 3x3x8x8 kernel
    assert np.abs(kernel).max() <= limit
    assert abs(kernel.std() - limit / np.sqrt(3.0)) < 0.03 * limit
    first, second = kernel[..., :8], kernel[..., 8:16]
    assert not np.allclose(first, second)


def test_layer_harness():
    loaded = run_layer_test(
        RegionLayer,
        dict(
            grid_size=GRID,
            momentum=0.9,
            epsilon=1e-5,
            kernel_initializer="he_normal",
            kernel_regularizer=keras.regularizers.L2(5e-4),
        ),
        inputs(),
        (2, *SHAPE),
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=2,
        mixed_precision_tolerance={"mixed_float16": 3e-3, "mixed_bfloat16": 2e-2},
        xla_gradient_check=True,
        xla_tolerance=1e-3,
    )
    assert (loaded.grid_size, loaded.kernel_size, loaded.momentum, loaded.epsilon) == (
        GRID,
        3,
        0.9,
        1e-5,
    )
    assert isinstance(loaded.kernel_initializer, keras.initializers.HeNormal)
    assert loaded.kernel_regularizer.l2 == pytest.approx(5e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid_size": 0}, r"`grid_size` must be a positive integer. Received: grid_size=0"),
        ({"grid_size": 2.5}, r"Received: grid_size=2.5"),
        ({"grid_size": True}, r"Received: grid_size=True"),
        ({"kernel_size": 2}, r"`kernel_size` must be a positive odd integer.*kernel_size=2"),
        ({"kernel_size": 0}, r"Received: kernel_size=0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RegionLayer(**kwargs)


def test_grid_must_divide_height_and_width():
    with pytest.raises(
        ValueError, match=r"`grid_size` must divide .* grid_size=8, height=170, width=160"
    ):
        RegionLayer(grid_size=8).build((None, 170, 160, 32))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((None, 16, 16), r"expects a 4D input .* input_shape=\(None, 16, 16\)"),
        ((None, None, 16, 4), r"needs a known height, width .* input_shape=\(None, None, 16, 4\)"),
    ],
)
def test_unusable_input_shapes_are_named(shape, message):
    with pytest.raises(ValueError, match=message):
        RegionLayer(grid_size=4).build(shape)


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_portable_grouped_gradients_match_per_group_convolutions(kernel_size):
    # Without oneDNN (AMD CPUs, TF_ENABLE_ONEDNN_OPTS=0), TensorFlow's CPU kernels cannot
    # differentiate grouped convolutions; the layers then use their own gradients, checked
    # here against one plain convolution per group (differentiable everywhere).
    from tfau.layers._patches import grouped_conv2d

    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(2, 6, 5, 4 * 3)), tf.float32)
    kernel = tf.constant(rng.normal(size=(kernel_size, kernel_size, 3, 4 * 2)), tf.float32)
    bias = tf.constant(rng.normal(size=(4 * 2,)), tf.float32)
    weights = tf.constant(rng.normal(size=(2, 6, 5, 4 * 2)), tf.float32)

    def per_group(x, kernel, bias):
        pairs = zip(tf.split(x, 4, axis=-1), tf.split(kernel, 4, axis=-1), strict=True)
        return tf.concat([tf.nn.conv2d(a, k, 1, "SAME") for a, k in pairs], -1) + bias

    results = []
    for function in (per_group, lambda *args: grouped_conv2d(*args, native_gradient=False)):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            loss = tf.reduce_sum(function(x, kernel, bias) * weights)
        results.append((function(x, kernel, bias), *tape.gradient(loss, [x, kernel, bias])))
    for native, portable in zip(*results, strict=True):
        np.testing.assert_allclose(portable, native, rtol=1e-4, atol=1e-4)


def test_region_layer_trains_with_onednn_disabled():
    from tfau.layers import _patches

    if not _patches._native_grouped_gradients("float32"):
        pytest.skip("no oneDNN here: test_layer_harness's fit step trains through the fallback")
    script = (
        "import numpy as np, keras, tfau\n"
        "from tfau.layers import _patches\n"
        "assert not _patches._native_grouped_gradients('float32')\n"
        "m = keras.Sequential([keras.Input((8, 8, 2)), tfau.layers.RegionLayer(grid_size=2)])\n"
        "m.compile('sgd', 'mse')\n"
        "x = np.random.default_rng(0).normal(size=(2, 8, 8, 2)).astype('float32')\n"
        "before = m.get_weights()[0].copy()\n"
        "m.fit(x, 2 * x, verbose=0)\n"
        "assert not np.allclose(before, m.get_weights()[0])\n"
        "print('trained')\n"
    )
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trained" in result.stdout
