import keras
import numpy as np
import pytest
import tensorflow as tf

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


def test_fit_step_changes_the_weights_before_the_layer():
    model = _small_model(2.0)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    before = model.get_layer("dense").get_weights()[0].copy()
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    assert not np.allclose(model.get_layer("dense").get_weights()[0], before)


def test_xla_matches_eager():
    layer = GradientScale(3.0)
    x = tf.constant(np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4))
    upstream = tf.constant(np.arange(12, dtype="float32").reshape(3, 4))

    def value_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return y, tape.gradient(y, x, output_gradients=upstream)

    eager = value_and_gradient(x)
    compiled = tf.function(value_and_gradient, jit_compile=True)(x)
    for a, b in zip(eager, compiled, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(compiled[1].numpy(), 3.0 * upstream.numpy())


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


def test_symbolic_call_and_output_shape():
    inputs = keras.Input((None, 5))
    outputs = GradientScale(2.0)(inputs)
    assert tuple(outputs.shape) == (None, None, 5)
    assert GradientScale().compute_output_shape((None, 7, 5)) == (None, 7, 5)


def test_config_round_trip():
    layer = GradientScale(scale=2.5, name="enhance")
    config = layer.get_config()
    assert config["scale"] == 2.5
    clone = GradientScale.from_config(config)
    assert clone.scale == 2.5 and clone.name == "enhance"
    assert clone.get_config() == config


def test_keras_file_round_trip(keras_round_trip):
    model = _small_model(2.0)
    x = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")
    loaded = keras_round_trip(model)
    assert isinstance(loaded.get_layer("scale"), GradientScale)
    assert loaded.get_layer("scale").scale == 2.0
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), "2", True, None])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match=r"`scale` must be a finite number. Received: scale="):
        GradientScale(scale)
