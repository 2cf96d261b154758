"""AttentionRefinement's fused BatchNorm (training) against Keras' BatchNormalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfau.layers import AttentionRefinement


def keras_refinement(layer, maps, batch_norms):
    """Per-AU convolutions on kernel slices, then Keras BatchNormalization layers in training
    mode (the layer's computation before the fused op)."""
    num_aus = maps.shape[-1]
    x = maps
    for index, kernel in enumerate(layer.kernels):
        inputs = tf.split(x, num_aus, axis=-1)
        kernels = tf.split(kernel, num_aus, axis=-1)
        pairs = zip(inputs, kernels, strict=True)
        x = tf.concat([tf.nn.conv2d(i, k, 1, "VALID") for i, k in pairs], axis=-1)
        if layer.biases[index] is not None:
            x = x + layer.biases[index]
        if index < 3:
            x = keras.ops.relu(batch_norms[index](x, training=True))
    return keras.ops.sigmoid(x), x


@pytest.mark.parametrize("implementation", ["per_au", "grouped"])
def test_training_matches_keras_batch_norm(implementation):
    rng = np.random.default_rng(1)
    maps = tf.constant(rng.uniform(size=(3, 13, 13, 3)).astype("float32"))
    layer = AttentionRefinement(
        width=4, return_logits=True, implementation=implementation, momentum=0.8
    )
    layer.build(maps.shape)
    for weight in layer.weights:
        values = rng.normal(0.0, 0.5, weight.shape)
        if "variance" in weight.path or "gamma" in weight.path:
            values = rng.uniform(0.5, 1.5, weight.shape)
        weight.assign(values.astype("float32"))
    batch_norms = []
    for batch_norm in layer.batch_norms:
        copy = keras.layers.BatchNormalization(momentum=0.8, epsilon=batch_norm.epsilon)
        copy.build((None, None, None, batch_norm.gamma.shape[0]))
        copy.set_weights(batch_norm.get_weights())
        batch_norms.append(copy)

    outputs, gradients = {}, {}
    for name, run in (
        ("fused", lambda: layer(maps, training=True)),
        ("keras", lambda: keras_refinement(layer, maps, batch_norms)),
    ):
        with tf.GradientTape() as tape:
            tape.watch(maps)
            refined, logits = run()
            loss = tf.reduce_sum(logits * tf.sin(tf.range(3, dtype="float32")))
        outputs[name] = (refined, logits)
        gradients[name] = tape.gradient(loss, [maps, *layer.kernels])
    for ours, theirs in zip(outputs["fused"], outputs["keras"], strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(gradients["fused"], gradients["keras"], strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
    for ours, theirs in zip(layer.batch_norms, batch_norms, strict=True):
        for a, b in (
            (ours.moving_mean, theirs.moving_mean),
            (ours.moving_variance, theirs.moving_variance),
        ):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_frozen_batch_norm_uses_the_moving_statistics_in_training_calls():
    rng = np.random.default_rng(2)
    maps = tf.constant(rng.uniform(size=(2, 11, 11, 2)).astype("float32"))
    layer = AttentionRefinement(width=3)
    layer.build(maps.shape)
    for batch_norm in layer.batch_norms:
        batch_norm.moving_mean.assign(rng.normal(0.0, 0.3, batch_norm.moving_mean.shape))
        batch_norm.moving_variance.assign(rng.uniform(0.5, 1.5, batch_norm.moving_mean.shape))
    layer.trainable = False
    moving = [w.numpy() for w in layer.non_trainable_weights]
    np.testing.assert_allclose(
        layer(maps, training=True).numpy(), layer(maps, training=False).numpy(), rtol=1e-6
    )
    for before, after in zip(moving, layer.non_trainable_weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
