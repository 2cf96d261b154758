import keras
import numpy as np
import pytest
import tensorflow as tf

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


def _randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    values = []
    for weight in layer.weights:
        if "variance" in weight.path:
            values.append(rng.uniform(0.5, 2.0, size=weight.shape))
        else:
            values.append(rng.normal(scale=0.5, size=weight.shape))
    layer.set_weights([v.astype("float32") for v in values])


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
    _randomise(layer)
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
    _randomise(layer)
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


def _model(**kwargs):
    inputs = keras.Input((None, None, 2))
    refined = AttentionRefinement(width=3, name="refine", **kwargs)(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(refined)
    return keras.Model(inputs, outputs, name="refinement_model")


def test_symbolic_call_and_fit_step_updates_every_variable():
    model = _model()
    assert tuple(model.get_layer("refine").output.shape) == (None, None, None, 2)
    layer = model.get_layer("refine")
    before = {w.path: w.numpy().copy() for w in layer.weights}
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    model.fit(_maps(num_aus=2), np.ones((2, 2), "float32"), epochs=1, verbose=0)
    unchanged = [w.path for w in layer.weights if np.allclose(w.numpy(), before[w.path])]
    assert unchanged == []
    assert model(_maps(size=15, num_aus=2)).shape == (2, 2)


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
        _randomise(layer)
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


def test_xla_matches_eager():
    layer = AttentionRefinement(width=4, return_logits=True)
    maps = _maps()
    layer.build(maps.shape)
    _randomise(layer)
    compiled = tf.function(lambda m: layer(m, training=False), jit_compile=True)(maps)
    for a, b in zip(layer(maps, training=False), compiled, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("policy", "dtype", "tol"),
    [("mixed_float16", "float16", 1e-2), ("mixed_bfloat16", "bfloat16", 5e-2)],
)
def test_mixed_precision_close_to_float32(policy, dtype, tol):
    maps = _maps()
    reference = AttentionRefinement(width=4, return_logits=True)
    reference.build(maps.shape)
    _randomise(reference)
    expected_refined, expected_logits = (t.numpy() for t in reference(maps, training=False))
    keras.config.set_dtype_policy(policy)
    layer = AttentionRefinement(width=4, return_logits=True)
    layer.build(maps.shape)
    layer.set_weights(reference.get_weights())
    assert all(w.dtype == "float32" for w in layer.weights)
    refined, logits = layer(maps, training=False)
    assert refined.dtype == dtype and logits.dtype == dtype
    np.testing.assert_allclose(tf.cast(refined, "float32").numpy(), expected_refined, atol=tol)
    scale = np.abs(expected_logits).max()
    np.testing.assert_allclose(
        tf.cast(logits, "float32").numpy(), expected_logits, atol=tol * scale
    )


def test_config_round_trip():
    layer = AttentionRefinement(
        width=5, use_batch_norm=False, return_logits=True, kernel_initializer="zeros"
    )
    config = layer.get_config()
    assert (config["width"], config["use_batch_norm"], config["return_logits"]) == (5, False, True)
    clone = AttentionRefinement.from_config(config)
    assert clone.get_config() == config
    assert config["implementation"] == "per_au"
    # Configs saved before the `implementation` argument existed still load.
    old_config = {k: v for k, v in config.items() if k != "implementation"}
    assert AttentionRefinement.from_config(old_config).implementation == "per_au"
    refined, logits = clone(_maps())
    # Zero kernels: every logit is the zero bias, every refined value sigmoid(0).
    np.testing.assert_array_equal(logits.numpy(), np.zeros((2, 4, 4, 3), "float32"))
    np.testing.assert_array_equal(refined.numpy(), np.full((2, 4, 4, 3), 0.5, "float32"))


def test_keras_file_round_trip(keras_round_trip):
    model = _model(return_logits=False)
    _randomise(model.get_layer("refine"))
    maps = _maps(num_aus=2)
    loaded = keras_round_trip(model)
    np.testing.assert_array_equal(loaded(maps).numpy(), model(maps).numpy())


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


def test_batch_norm_epsilon_and_momentum_survive_a_keras_file(keras_round_trip):
    loaded = keras_round_trip(_model(epsilon=1e-5, momentum=0.9)).get_layer("refine")
    assert (loaded.epsilon, loaded.momentum) == (1e-5, 0.9)
    assert [bn.epsilon for bn in loaded.batch_norms] == [1e-5] * 3
    assert [bn.momentum for bn in loaded.batch_norms] == [0.9] * 3
