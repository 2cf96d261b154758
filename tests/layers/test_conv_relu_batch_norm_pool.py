import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import randomize_weights, run_layer_test

from tfau.layers import ConvReLUBatchNormPool


def _inputs(shape=(4, 13, 12, 3), seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_layer_harness():
    run_layer_test(
        ConvReLUBatchNormPool,
        {"filters": 4, "kernel_size": 3},
        _inputs(),
        (4, 5, 5, 4),
        input_shape=(None, None, 3),
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=2,
        inputs_with_gradient=(0,),
        xla_gradient_check=True,
        xla_tolerance=1e-4,  # XLA's BatchNorm gradient sums in another order
    )


@pytest.mark.parametrize("training, pool_size", [(True, 2), (True, 3), (False, 2)])
def test_equals_keras_conv_batch_norm_pool(training, pool_size):
    """The PAttNet encoder block as Keras layers (what the block replaces), same weights:
    outputs, gradients (input and weights) and moving statistics. After ReLU and BatchNorm
    the zeros of a channel are equal: pooling windows with ties, whose gradient goes to the
    first maximum; a map of 9 x 8 leaves a row (and a column for 3) outside the windows."""
    x = tf.constant(_inputs())
    block = ConvReLUBatchNormPool(6, 5, pool_size, epsilon=1e-5, momentum=0.9)
    block.build(x.shape)
    randomize_weights(block)
    kernel, bias, gamma, beta, mean, variance = block.get_weights()
    conv = keras.layers.Conv2D(6, 5, activation="relu")
    norm = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)
    pool = keras.layers.MaxPooling2D(pool_size)
    pool(norm(conv(x)))
    conv.set_weights([kernel, bias])
    norm.set_weights([gamma, beta, mean, variance])

    def outputs_and_gradients(call, weights):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = call()
            loss = tf.reduce_sum(tf.square(y) * tf.range(1.0, y.shape[-1] + 1.0))
        return y, tape.gradient(loss, [x, *weights])

    expected, expected_grads = outputs_and_gradients(
        lambda: pool(norm(conv(x), training=training)), [*conv.weights, *norm.trainable_weights]
    )
    got, got_grads = outputs_and_gradients(
        lambda: block(x, training=training), block.trainable_weights
    )
    assert got.shape == (4, 9 // pool_size, 8 // pool_size, 6)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    for want, have in zip(expected_grads, got_grads, strict=True):
        scale = float(tf.reduce_max(tf.abs(want)))
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(block.moving_mean, norm.moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(block.moving_variance, norm.moving_variance, rtol=1e-5)
    moved = not np.allclose(block.moving_mean.numpy(), mean)
    assert moved == training


def test_errors():
    with pytest.raises(ValueError, match=r"`filters` must be .* Received: filters=0"):
        ConvReLUBatchNormPool(0)
    with pytest.raises(ValueError, match="`pool_size` must be a positive integer"):
        ConvReLUBatchNormPool(4, pool_size=1.5)
    with pytest.raises(ValueError, match=r"at least kernel_size \+ pool_size - 1 = 6 pixels"):
        ConvReLUBatchNormPool(4)(np.zeros((1, 5, 9, 3), "float32"))
    with pytest.raises(ValueError, match="expects 4D"):
        ConvReLUBatchNormPool(4)(np.zeros((1, 9, 9), "float32"))
