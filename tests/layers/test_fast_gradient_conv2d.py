import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import randomize_weights, run_layer_test

from tfau.layers import FastGradientConv2D, _patches


def _inputs(shape=(3, 13, 12, 4), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_layer_harness():
    run_layer_test(
        FastGradientConv2D,
        {"filters": 5, "kernel_size": 3, "strides": 2, "activation": "relu"},
        _inputs(),
        (3, 6, 5, 5),
        input_shape=(None, None, 4),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        inputs_with_gradient=(0,),
        xla_gradient_check=True,
    )


@pytest.mark.parametrize(
    "shape, kernel_size, strides",
    [
        ((3, 13, 12, 4), 3, 1),
        ((3, 13, 12, 4), 3, 2),  # the stride leaves the last row unused
        ((2, 17, 16, 3), 6, 2),  # DRML's conv6
        ((2, 16, 19, 3), 4, 3),  # rows and columns left unused
    ],
)
def test_valid_conv2d_equals_tensorflow(shape, kernel_size, strides):
    """Values and both gradients of the forward-convolution form against ``tf.nn.conv2d``'s
    own, with an upstream gradient that differs per position and channel."""
    x = tf.constant(_inputs(shape))
    kernel = tf.constant(_inputs((kernel_size, kernel_size, shape[-1], 5), seed=2))

    def outputs_and_gradients(function):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = function(x, kernel)
            weights = tf.reshape(tf.range(1.0, tf.cast(tf.size(y), tf.float32) + 1.0), y.shape)
            loss = tf.reduce_sum(y * tf.sin(weights))
        return (y, *tape.gradient(loss, [x, kernel]))

    expected = outputs_and_gradients(lambda x, k: tf.nn.conv2d(x, k, strides, "VALID"))
    got = outputs_and_gradients(lambda x, k: _patches.valid_conv2d(x, k, strides))
    names = ("outputs", "input gradient", "kernel gradient")
    for name, e, g in zip(names, expected, got, strict=True):
        assert g.shape == e.shape, name
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_trains_like_keras_conv2d(padding):
    """Same weights as Keras' Conv2D: same outputs and gradients, in a compiled function
    as the Trainer runs it (``same`` padding is Keras' own path)."""
    x = tf.constant(_inputs())
    kwargs = {"filters": 5, "kernel_size": 4, "strides": 2, "padding": padding}
    fast, plain = FastGradientConv2D(**kwargs), keras.layers.Conv2D(**kwargs)
    fast.build(x.shape)
    plain.build(x.shape)
    randomize_weights(fast)
    plain.set_weights(fast.get_weights())

    @tf.function
    def outputs_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.square(y) * tf.range(1.0, 6.0))
        return (y, *tape.gradient(loss, [x, *layer.trainable_weights]))

    for e, g in zip(outputs_and_gradients(plain), outputs_and_gradients(fast), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-4)


def test_kernel_gradient_is_a_forward_convolution_without_onednn():
    """Without oneDNN (a fresh process with ``TF_ENABLE_ONEDNN_OPTS=0``) the compiled gradient
    holds no ``Conv2DBackpropFilter``, the slow Eigen kernel this layer replaces, and equals
    Keras' Conv2D's."""
    script = """
import numpy as np, keras, tensorflow as tf
from tfau.layers import FastGradientConv2D, _patches

def gradient_ops(layer, x):
    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x)))
        return tape.gradient(loss, layer.trainable_weights)

    graph = gradient.get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}, gradient(x)

x = tf.constant(np.random.default_rng(0).normal(size=(2, 20, 20, 3)), tf.float32)
fast, plain = FastGradientConv2D(4, 8), keras.layers.Conv2D(4, 8)
fast.build(x.shape), plain.build(x.shape)
plain.set_weights(fast.get_weights())
fast_ops, fast_gradient = gradient_ops(fast, x)
plain_ops, plain_gradient = gradient_ops(plain, x)
assert "Conv2DBackpropFilter" in plain_ops, plain_ops
assert not _patches.native_filter_gradient_is_fast()
assert "Conv2DBackpropFilter" not in fast_ops, fast_ops
for f, p in zip(fast_gradient, plain_gradient):
    np.testing.assert_allclose(f, p, rtol=1e-5, atol=1e-4)
print("forward")
"""
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("forward"), result.stdout
