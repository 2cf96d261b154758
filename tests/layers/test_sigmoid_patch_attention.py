import keras
import numpy as np
import pytest
import tensorflow as tf

from tfau.layers import SigmoidPatchAttention


def reference_attention(encodings, kernel, bias, context, normalize):
    """PAttNet eqs. (1)-(3) in float64; softmax over the patches for the ablation."""
    e = np.asarray(encodings, np.float64)
    hidden = np.tanh(e @ kernel + bias)  # (b, p, h)
    scores = hidden @ context  # (b, p)
    if normalize == "sigmoid":
        alpha = 1.0 / (1.0 + np.exp(-scores))
    else:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        alpha = shifted / shifted.sum(axis=1, keepdims=True)
    return np.einsum("bp,bpd->bd", alpha, e), alpha


def _encodings(shape=(3, 9, 6), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])


@pytest.mark.parametrize("normalize", ["sigmoid", "softmax"])
@pytest.mark.parametrize("units", [None, 4])
def test_matches_numpy_reference(normalize, units):
    x = _encodings()
    layer = SigmoidPatchAttention(units=units, normalize=normalize, return_attention=True)
    layer.build(x.shape)
    _randomise(layer)
    kernel, bias, context = (w.astype(np.float64) for w in layer.get_weights())
    assert kernel.shape == (6, units or 6) and context.shape == (units or 6,)
    v, alpha = layer(x)
    expected_v, expected_alpha = reference_attention(x, kernel, bias, context, normalize)
    np.testing.assert_allclose(alpha.numpy(), expected_alpha, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v.numpy(), expected_v, rtol=1e-5, atol=1e-6)


def test_sigmoid_lets_several_patches_count_softmax_sums_to_one():
    x = _encodings(shape=(4, 9, 6))
    sigmoid = SigmoidPatchAttention(return_attention=True)
    softmax = SigmoidPatchAttention(normalize="softmax", return_attention=True)
    sigmoid.build(x.shape)
    softmax.build(x.shape)
    _randomise(sigmoid)
    softmax.set_weights(sigmoid.get_weights())
    alpha_sigmoid = sigmoid(x)[1].numpy()
    alpha_softmax = softmax(x)[1].numpy()
    np.testing.assert_allclose(alpha_softmax.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all((alpha_sigmoid > 0) & (alpha_sigmoid < 1))
    assert not np.allclose(alpha_sigmoid.sum(axis=1), 1.0, atol=0.1)
    # Same scores, different normalisation: the ranking of the patches is the same.
    np.testing.assert_array_equal(
        np.argsort(alpha_sigmoid, axis=1), np.argsort(alpha_softmax, axis=1)
    )


def test_without_return_attention_only_the_encoding():
    x = _encodings()
    layer = SigmoidPatchAttention()
    out = layer(x)
    assert tuple(out.shape) == (3, 6)
    assert [w.name for w in layer.weights] == ["kernel", "bias", "context"]


def _model(**kwargs):
    inputs = keras.Input((9, 6))
    v, alpha = SigmoidPatchAttention(name="attention", return_attention=True, **kwargs)(inputs)
    logits = keras.layers.Dense(1, name="head")(keras.layers.ReLU()(v))
    return keras.Model(inputs, [logits, alpha], name="pattnet_head")


@pytest.mark.parametrize("normalize", ["sigmoid", "softmax"])
def test_fit_step_changes_every_weight(normalize):
    inputs = keras.Input((9, 6))
    v = SigmoidPatchAttention(name="attention", normalize=normalize)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(v))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    layer = model.get_layer("attention")
    layer.set_weights([w + 0.1 for w in layer.get_weights()])  # non-zero bias gradients
    before = [w.copy() for w in layer.get_weights()]
    model.fit(_encodings((8, 9, 6)), np.ones((8, 1), "float32"), epochs=1, verbose=0)
    for old, new in zip(before, layer.get_weights(), strict=True):
        assert not np.allclose(old, new)


def test_symbolic_shapes_with_unknown_patch_count():
    inputs = keras.Input((None, 6))
    v, alpha = SigmoidPatchAttention(return_attention=True)(inputs)
    assert tuple(v.shape) == (None, 6) and tuple(alpha.shape) == (None, None)
    layer = SigmoidPatchAttention(return_attention=True)
    assert layer.compute_output_shape((None, 9, 60)) == ((None, 60), (None, 9))
    assert SigmoidPatchAttention().compute_output_shape((None, 9, 60)) == (None, 60)
    model = keras.Model(inputs, [v, alpha])
    for patches in (3, 9):
        x = _encodings((2, patches, 6))
        out_v, out_alpha = model(x)
        assert out_v.shape == (2, 6) and out_alpha.shape == (2, patches)


def test_xla_matches_eager():
    model = _model(normalize="softmax")
    x = _encodings()
    compiled = tf.function(model, jit_compile=True)(x)
    for a, b in zip(model(x), compiled, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("policy", "dtype", "tol"),
    [("mixed_float16", "float16", 5e-3), ("mixed_bfloat16", "bfloat16", 4e-2)],
)
@pytest.mark.parametrize("normalize", ["sigmoid", "softmax"])
def test_mixed_precision_close_to_float32(policy, dtype, tol, normalize):
    x = _encodings()
    reference = SigmoidPatchAttention(normalize=normalize, return_attention=True)
    reference.build(x.shape)
    _randomise(reference)
    expected_v, expected_alpha = (t.numpy() for t in reference(x))
    keras.config.set_dtype_policy(policy)
    layer = SigmoidPatchAttention(normalize=normalize, return_attention=True)
    layer.build(x.shape)
    assert layer.kernel.dtype == "float32"
    layer.set_weights(reference.get_weights())
    v, alpha = layer(x)
    assert v.dtype == dtype and alpha.dtype == dtype
    np.testing.assert_allclose(tf.cast(alpha, "float32").numpy(), expected_alpha, atol=tol)
    scale = np.abs(expected_v).max()
    np.testing.assert_allclose(tf.cast(v, "float32").numpy(), expected_v, atol=tol * scale * 3)


def test_config_round_trip():
    layer = SigmoidPatchAttention(
        units=5, normalize="softmax", return_attention=True, context_initializer="ones"
    )
    config = layer.get_config()
    assert (config["units"], config["normalize"], config["return_attention"]) == (
        5,
        "softmax",
        True,
    )
    clone = SigmoidPatchAttention.from_config(config)
    assert clone.get_config() == config
    clone.build((None, 9, 6))
    np.testing.assert_array_equal(clone.context.numpy(), np.ones(5))


def test_keras_file_round_trip(keras_round_trip):
    model = _model(units=4)
    _randomise(model.get_layer("attention"))
    x = _encodings()
    loaded = keras_round_trip(model)
    for a, b in zip(model(x), loaded(x), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(units=0), r"`units` must be a positive integer or None. Received: units=0"),
        (dict(units=2.5), r"Received: units=2.5"),
        (dict(normalize="tanh"), r"`normalize` must be one of .* Received: normalize='tanh'"),
        (dict(return_attention="yes"), r"`return_attention` must be a bool. Received: "),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SigmoidPatchAttention(**kwargs)


def test_bad_input_rank():
    with pytest.raises(ValueError, match=r"\(batch, num_patches, encoding_size\).*\(2, 6\)"):
        SigmoidPatchAttention()(np.ones((2, 6), "float32"))
