import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau.layers import GradientScale


def _value_and_gradient(layer, x, upstream):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    return y, tape.gradient(y, x, output_gradients=tf.cast(upstream, y.dtype))


@pytest.mark.parametrize("scale", [2.0, 0.5, 0.0, -1.0])
def test_identity_forward_and_scaled_gradient(scale):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    upstream = rng.normal(size=x.shape).astype("float32")
    y, gradient = _value_and_gradient(GradientScale(scale), x, upstream)
    np.testing.assert_array_equal(y.numpy(), x)
    np.testing.assert_allclose(gradient.numpy(), scale * upstream, rtol=1e-6)


def test_only_the_path_through_the_layer_is_scaled():
    # d/dx [sum(3 * scaled(x)) + sum(x ** 2)] = 2 * 3 + 2 x: the direct term is untouched.
    x = tf.constant([1.0, -2.0, 0.5])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(3.0 * GradientScale(2.0)(x)) + tf.reduce_sum(x**2)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 6.0 + 2 * x.numpy())


def _small_model(scale):
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="dense", kernel_initializer="ones")(inputs)
    if scale is not None:
        hidden = GradientScale(scale, name="scale")(hidden)
    outputs = keras.layers.Dense(1, name="head", kernel_initializer="ones")(hidden)
    return keras.Model(inputs, outputs, name="gradient_scale_model")


def test_gradient_into_earlier_layers_is_scaled_inside_a_model():
    x = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], dtype="float32")
    gradients = {}
    for scale in (None, 2.0):
        model = _small_model(scale)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) ** 2)
        gradients[scale] = tape.gradient(loss, model.get_layer("dense").trainable_variables)
    for plain, scaled in zip(gradients[None], gradients[2.0], strict=True):
        np.testing.assert_allclose(scaled.numpy(), 2.0 * plain.numpy(), rtol=1e-6)


def test_layer_harness():
    x = np.random.default_rng(1).normal(size=(2, 3, 5)).astype("float32")
    loaded = run_layer_test(
        GradientScale,
        dict(scale=2.5),
        x,
        (2, 3, 5),
        input_shape=(None, 5),
        expected_num_trainable_weights=0,
        inputs_with_gradient=(0,),
        xla_gradient_check=True,
        xla_tolerance=0.0,
    )
    assert loaded.scale == 2.5


@pytest.mark.parametrize(
    ("policy", "dtype"), [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")]
)
def test_mixed_precision(policy, dtype):
    keras.config.set_dtype_policy(policy)
    layer = GradientScale(2.0)
    x = np.array([[0.25, -1.5, 3.0]], dtype="float32")
    upstream = np.array([[1.0, 0.5, -2.0]], dtype="float32")
    y, gradient = _value_and_gradient(layer, x, upstream)
    assert y.dtype == dtype
    # The values are exactly representable in both half-precision formats.
    np.testing.assert_array_equal(tf.cast(y, "float32").numpy(), x)
    np.testing.assert_array_equal(tf.cast(gradient, "float32").numpy(), 2.0 * upstream)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), "2", True, None])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match=r"`scale` must be a finite number. Received: scale="):
        GradientScale(scale)
