"""LocalAUBranches: equals one plain Keras CNN per AU on map-weighted features, summed."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau.layers.local_au_branches import LocalAUBranches, branch_output_size

FILTERS = (5, 6, 7)


def _inputs(seed=0, size=12, channels=4, num_aus=3):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, size, size, channels)).astype("float32")
    maps = rng.uniform(size=(2, size, size, num_aus)).astype("float32")
    return features, maps


def _reference(layer, features, maps, training):
    """The straightforward per-AU loop with Keras layers and the layer's weight slices.

    Returns the summed branches and, per (convolution, AU), the moving mean and variance of
    the Keras BatchNormalization after the call.
    """
    convs, batch_norms, moving = {}, {}, {}
    total = 0.0
    for au in range(maps.shape[-1]):
        x = features * maps[..., au : au + 1]
        index = 0
        for filters in layer.filters:
            for _ in range(layer.convs_per_stage):
                units = slice(au * filters, (au + 1) * filters)
                x = keras.ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
                if index not in convs:  # one Keras layer per convolution, reused by the AUs
                    stride = layer.first_stride if index == 0 else 1
                    convs[index] = keras.layers.Conv2D(filters, 3, strides=stride)
                    convs[index].build(x.shape)
                    batch_norms[index] = keras.layers.BatchNormalization(epsilon=layer.epsilon)
                    batch_norms[index].build((*x.shape[:-1], filters))
                convs[index].set_weights(
                    [layer.kernels[index].numpy()[..., units], layer.biases[index].numpy()[units]]
                )
                batch_norm = batch_norms[index]
                statistics = (layer.gammas, layer.betas, layer.moving_means, layer.moving_variances)
                batch_norm.set_weights([w[index].numpy()[units] for w in statistics])
                x = keras.ops.relu(batch_norm(convs[index](x), training=training))
                moving[index, au] = (
                    batch_norm.moving_mean.numpy(),
                    batch_norm.moving_variance.numpy(),
                )
                index += 1
            x = keras.ops.max_pool(x, 2)
        total = total + np.asarray(x)
    return total, moving


@pytest.mark.parametrize("implementation", ["per_au", "grouped"])
@pytest.mark.parametrize("first_stride", [1, 2])
@pytest.mark.parametrize("training", [False, True])
def test_matches_a_per_au_keras_loop(implementation, first_stride, training):
    size = 24 if first_stride == 2 else 12
    features, maps = _inputs(size=size)
    layer = LocalAUBranches(
        filters=FILTERS, first_stride=first_stride, implementation=implementation
    )
    layer([features, maps])
    # Non-trivial BatchNorm statistics and affine parameters.
    rng = np.random.default_rng(1)
    for gamma, beta, mean, variance in zip(
        layer.gammas, layer.betas, layer.moving_means, layer.moving_variances, strict=True
    ):
        gamma.assign(rng.uniform(0.5, 2, gamma.shape))
        beta.assign(rng.normal(size=beta.shape))
        mean.assign(rng.normal(size=mean.shape))
        variance.assign(rng.uniform(0.5, 2, variance.shape))
    expected, moving = _reference(layer, features, maps, training)
    output = layer([features, maps], training=training)
    assert output.shape == (2, 1, 1, 7) == expected.shape
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
    # The moving statistics move as Keras' BatchNormalization's (only in training).
    for (index, au), reference in moving.items():
        units = slice(au * reference[0].shape[0], (au + 1) * reference[0].shape[0])
        for variable, want in zip(
            (layer.moving_means[index], layer.moving_variances[index]), reference, strict=True
        ):
            np.testing.assert_allclose(variable.numpy()[units], want, rtol=1e-4, atol=1e-5)


def test_parameter_count_is_one_branch_per_au():
    features, maps = _inputs(num_aus=3)
    layer = LocalAUBranches(filters=FILTERS)
    layer([features, maps])
    convs = (4 * 5 + 5 * 5 + 5 * 6 + 6 * 6 + 6 * 7 + 7 * 7) * 9 + 2 * (5 + 6 + 7)
    batch_norms = 4 * 2 * (5 + 6 + 7)
    assert layer.count_params() == 3 * (convs + batch_norms)


@pytest.mark.parametrize("implementation", ["per_au", "grouped"])
def test_layer_harness(implementation):
    run_layer_test(
        LocalAUBranches,
        dict(filters=(3,), implementation=implementation),  # one stage of two convolutions
        list(_inputs(size=6, channels=2, num_aus=2)),
        (2, 3, 3, 3),
        expected_num_trainable_weights=4 * 2,
        expected_num_non_trainable_weights=2 * 2,
        # Each convolution's bias feeds a batch normalisation: zero gradient in training.
        weights_without_gradient=("bias_*",),
        run_xla_check=False,  # 3 s of compilation each; TrainingConfig.jit_compile is off
    )


def test_output_shape_with_a_first_stride():
    layer = LocalAUBranches(filters=FILTERS, first_stride=2, implementation="grouped")
    assert layer.compute_output_shape([(None, 44, 44, 64), (None, 44, 44, 12)]) == (
        None,
        2,
        2,
        7,
    )
    assert branch_output_size(44, 3) == 5


@pytest.mark.parametrize("implementation", ["per_au", "grouped"])
def test_mean_reduction_is_the_sum_over_the_number_of_aus(implementation):
    features, maps = _inputs()
    summed = LocalAUBranches(filters=FILTERS, implementation=implementation)
    averaged = LocalAUBranches.from_config({**summed.get_config(), "reduction": "mean"})
    expected = summed([features, maps])
    averaged([features, maps])
    averaged.set_weights(summed.get_weights())
    np.testing.assert_allclose(averaged([features, maps]), expected / 3, rtol=1e-5, atol=1e-6)
    assert averaged.get_config()["reduction"] == "mean"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction": "max"}, r"`reduction` must be one of \('sum', 'mean'\)"),
        ({"filters": ()}, r"`filters` must be a non-empty sequence .* filters=\(\)"),
        (
            {"convs_per_stage": 0},
            r"`convs_per_stage` must be a positive integer. Received: convs_per_stage=0",
        ),
        (
            {"first_stride": 0},
            r"`first_stride` must be a positive integer. Received: first_stride=0",
        ),
        (
            {"implementation": "xla"},
            r"`implementation` must be one of .*Received: implementation='xla'",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalAUBranches(**kwargs)


def test_bad_inputs():
    features, maps = _inputs()
    with pytest.raises(ValueError, match="must have the features' height and width"):
        LocalAUBranches(filters=FILTERS)([features, maps[:, :10, :10]])
    with pytest.raises(ValueError, match="too small for 3 max-pools"):
        LocalAUBranches(filters=FILTERS)([features[:, :6, :6], maps[:, :6, :6]])


@pytest.mark.parametrize("first_stride", [1, 2])
def test_grouped_and_per_au_gradients_agree(first_stride):
    # Also checks that the grouped convolutions have CPU gradients (TensorFlow has none for
    # grouped convolutions with explicit padding).
    features, maps = _inputs(size=12 * first_stride)
    layers = {
        implementation: LocalAUBranches(
            filters=FILTERS, first_stride=first_stride, implementation=implementation
        )
        for implementation in ("per_au", "grouped")
    }
    layers["per_au"]([features, maps])
    layers["grouped"]([features, maps])
    layers["grouped"].set_weights(layers["per_au"].get_weights())
    gradients = {}
    for implementation, layer in layers.items():
        inputs = [tf.constant(features), tf.constant(maps)]
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(layer(inputs, training=True) ** 2)
        gradients[implementation] = tape.gradient(loss, [*inputs, *layer.trainable_weights])
    # Biases before a training-mode BatchNorm get a zero gradient up to rounding: compare
    # every gradient at the scale of the largest one.
    scale = max(float(tf.reduce_max(tf.abs(g))) for g in gradients["per_au"])
    for per_au, grouped in zip(gradients["per_au"], gradients["grouped"], strict=True):
        np.testing.assert_allclose(grouped, per_au, rtol=1e-4, atol=1e-5 * scale)
    assert float(tf.reduce_max(tf.abs(gradients["per_au"][0]))) > 1e-3 * scale
