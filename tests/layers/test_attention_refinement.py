import numpy as np
import pytest
import tensorflow as tf
from layer_harness import randomize_weights, run_layer_test

from tfau.layers import AttentionRefinement


def valid_conv(x, kernel, bias):
    """Unpadded 3 x 3 cross-correlation of one (h, w, c_in) map, as a loop over taps."""
    size = kernel.shape[0]
    h, w = x.shape[0] - size + 1, x.shape[1] - size + 1
    out = np.zeros((h, w, kernel.shape[-1])) + bias
    for di in range(size):
        for dj in range(size):
            out += x[di : di + h, dj : dj + w] @ kernel[di, dj]
    return out


def reference_refinement(maps, layer):
    """Each AU separately: its own slices of the grouped kernels, BN in inference mode."""
    num_aus, width = maps.shape[-1], layer.width
    depths = [1, width, width, width, 1]
    refined = []
    for image in maps.astype(np.float64):
        per_au = []
        for a in range(num_aus):
            x = image[..., a : a + 1]
            for index in range(4):
                out_per_au = depths[index + 1]
                channels = slice(a * out_per_au, (a + 1) * out_per_au)
                kernel = layer.kernels[index].numpy()[..., channels]
                bias = layer.biases[index]
                x = valid_conv(x, kernel, 0.0 if bias is None else bias.numpy()[channels])
                if index < 3:
                    if layer.use_batch_norm:
                        bn = layer.batch_norms[index]
                        gamma, beta, mean, var = (v.numpy()[channels] for v in bn.weights)
                        x = gamma * (x - mean) / np.sqrt(var + bn.epsilon) + beta
                    x = np.maximum(x, 0.0)
            per_au.append(x[..., 0])
        refined.append(np.stack(per_au, axis=-1))
    logits = np.stack(refined)
    return 1.0 / (1.0 + np.exp(-logits)), logits


def _maps(batch=2, size=12, num_aus=3, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, size, size, num_aus)).astype("float32")


@pytest.mark.parametrize("implementation", ["per_au", "grouped"])
@pytest.mark.parametrize("use_batch_norm", [False, True])
def test_matches_per_au_numpy_reference(use_batch_norm, implementation):
    maps = _maps()
    layer = AttentionRefinement(
        width=4,
        use_batch_norm=use_batch_norm,
        return_logits=True,
        implementation=implementation,
    )
    layer.build(maps.shape)
    randomize_weights(layer)
    refined, logits = layer(maps, training=False)
    expected_refined, expected_logits = reference_refinement(maps, layer)
    assert refined.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(logits.numpy(), expected_logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(refined.numpy(), expected_refined, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(refined.numpy(), tf.sigmoid(logits).numpy(), rtol=1e-6)


def test_each_au_sees_only_its_own_map():
    maps = _maps()
    layer = AttentionRefinement(width=3, use_batch_norm=False)
    layer.build(maps.shape)
    randomize_weights(layer)
    changed = maps.copy()
    changed[..., 1] = np.random.default_rng(7).uniform(size=changed[..., 1].shape)
    before, after = layer(maps).numpy(), layer(changed).numpy()
    np.testing.assert_array_equal(before[..., [0, 2]], after[..., [0, 2]])
    assert not np.allclose(before[..., 1], after[..., 1])


def test_jaanet_sizes_parameters_and_flops():
    # l = 176: the l/4 = 44 map is zoomed to 52 and refined back to 44 x 44, 12 AUs.
    layer = AttentionRefinement(width=64, use_batch_norm=False)
    assert layer.compute_output_shape((None, 52, 52, 12)) == (None, 44, 44, 12)
    layer.build((None, 52, 52, 12))
    per_au = (9 * 64 + 64) + 2 * (9 * 64 * 64 + 64) + (9 * 64 + 1)
    assert layer.count_params() == 12 * per_au == 900_876
    flops, side = 0, 52
    for kernel in layer.kernels:
        side -= 2
        _, _, in_per_au, out_total = kernel.shape
        flops += 2 * 9 * in_per_au * out_total * side * side
    # performance.md: attention refinement is 4.0 of JAA-Net's 17.5 GFLOP per image.
    assert flops / 1e9 == pytest.approx(3.97, abs=0.01)
    with_bn = AttentionRefinement(width=64)
    with_bn.build((None, 52, 52, 12))
    # Batch normalisation adds gamma, beta and the moving statistics, and removes the
    # three hidden biases it would cancel.
    assert with_bn.count_params() == 900_876 + 12 * 3 * 64 * (4 - 1)


@pytest.mark.parametrize("implementation", ["per_au", "grouped"])
def test_layer_harness(implementation):
    loaded = run_layer_test(
        AttentionRefinement,
        dict(
            width=3,
            return_logits=True,
            implementation=implementation,
            epsilon=1e-5,
            momentum=0.9,
        ),
        _maps(num_aus=2),
        ((2, 4, 4, 2), (2, 4, 4, 2)),
        input_shape=(None, None, 2),
        expected_num_trainable_weights=4 + 1 + 3 * 2,  # no hidden biases before BatchNorm
        expected_num_non_trainable_weights=3 * 2,
        learning_rate=0.1,
        run_xla_check=implementation == "per_au",  # compiling each takes seconds
    )
    assert [bn.epsilon for bn in loaded.batch_norms] == [1e-5] * 3
    assert [bn.momentum for bn in loaded.batch_norms] == [0.9] * 3
    # Built for unknown sizes, the layer runs at another size.
    assert [tuple(t.shape) for t in loaded(_maps(size=15, num_aus=2))] == [(2, 7, 7, 2)] * 2


def test_compute_output_shape_with_unknown_sizes():
    layer = AttentionRefinement(return_logits=True)
    shape = (None, 44, 44, 12)
    assert layer.compute_output_shape((None, 52, None, 12)) == ((None, 44, None, 12),) * 2
    assert AttentionRefinement().compute_output_shape((None, 52, 52, 12)) == shape


def test_implementations_agree_in_training_with_gradients():
    maps = tf.constant(_maps(batch=3, size=14, num_aus=4))
    layers = {
        implementation: AttentionRefinement(
            width=5, return_logits=True, implementation=implementation
        )
        for implementation in ("per_au", "grouped")
    }
    results, initial_weights = {}, None
    for implementation, layer in layers.items():
        layer.build(maps.shape)
        randomize_weights(layer)
        if initial_weights is None:
            initial_weights = layer.get_weights()
        layer.set_weights(initial_weights)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            refined, logits = layer(maps, training=True)
            loss = tf.reduce_sum(logits * tf.sin(tf.range(logits.shape[-1], dtype="float32")))
        gradients = tape.gradient(loss, [maps, *layer.trainable_weights])
        results[implementation] = [refined, logits, *gradients, *layer.non_trainable_weights]
    assert len(results["per_au"]) == 2 + 1 + 11 + 6  # 4 kernels, 1 bias, 3 x (gamma, beta)
    for a, b in zip(results["per_au"], results["grouped"], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)


def test_configs_without_implementation_and_zero_kernels():
    layer = AttentionRefinement(
        width=5, use_batch_norm=False, return_logits=True, kernel_initializer="zeros"
    )
    config = layer.get_config()
    assert config["implementation"] == "per_au"
    # Configs saved before the `implementation` argument existed still load.
    old_config = {k: v for k, v in config.items() if k != "implementation"}
    clone = AttentionRefinement.from_config(old_config)
    assert clone.implementation == "per_au"
    refined, logits = clone(_maps())
    # Zero kernels: every logit is the zero bias, every refined value sigmoid(0).
    np.testing.assert_array_equal(logits.numpy(), np.zeros((2, 4, 4, 3), "float32"))
    np.testing.assert_array_equal(refined.numpy(), np.full((2, 4, 4, 3), 0.5, "float32"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(width=0), r"`width` must be a positive integer. Received: width=0"),
        (dict(width=True), r"Received: width=True"),
        (dict(use_batch_norm=1), r"`use_batch_norm` must be a bool. Received: use_batch_norm=1"),
        (dict(return_logits="no"), r"`return_logits` must be a bool. Received: return_logits='no'"),
        (
            dict(implementation="loop"),
            r"`implementation` must be one of \('per_au', 'grouped'\). "
            r"Received: implementation='loop'",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttentionRefinement(**kwargs)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((None, 8, 12, 3), r"height must be at least 9: four unpadded .* Received: height=8"),
        ((None, 12, 5, 3), r"width must be at least 9.* Received: width=5"),
        ((None, 12, 12), r"must be \(batch, height, width, num_aus\).*\(None, 12, 12\)"),
        ((None, 12, 12, None), r"number of AUs \(last input axis\) must be known"),
    ],
)
def test_bad_input_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        AttentionRefinement().build(shape)
