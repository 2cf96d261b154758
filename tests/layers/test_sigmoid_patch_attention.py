import numpy as np
import pytest
from layer_harness import randomize_weights, run_layer_test

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


@pytest.mark.parametrize("normalize", ["sigmoid", "softmax"])
@pytest.mark.parametrize("units", [None, 4])
def test_matches_numpy_reference(normalize, units):
    x = _encodings()
    layer = SigmoidPatchAttention(units=units, normalize=normalize, return_attention=True)
    layer.build(x.shape)
    randomize_weights(layer)
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
    randomize_weights(sigmoid)
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


@pytest.mark.parametrize("normalize", ["sigmoid", "softmax"])
def test_layer_harness(normalize):
    loaded = run_layer_test(
        SigmoidPatchAttention,
        dict(units=4, normalize=normalize, return_attention=True),
        _encodings(),
        ((3, 6), (3, 9)),
        input_shape=(None, 6),
        expected_num_trainable_weights=3,
        learning_rate=0.1,
        mixed_precision_tolerance={"mixed_float16": 5e-3, "mixed_bfloat16": 4e-2},
    )
    # Built for an unknown number of patches, the layer runs with any.
    for patches in (3, 9):
        out_v, out_alpha = loaded(_encodings((2, patches, 6)))
        assert out_v.shape == (2, 6) and out_alpha.shape == (2, patches)


def test_compute_output_shape():
    layer = SigmoidPatchAttention(return_attention=True)
    assert layer.compute_output_shape((None, 9, 60)) == ((None, 60), (None, 9))
    assert SigmoidPatchAttention().compute_output_shape((None, 9, 60)) == (None, 60)


def test_initializers_survive_the_config():
    config = SigmoidPatchAttention(units=5, context_initializer="ones").get_config()
    clone = SigmoidPatchAttention.from_config(config)
    clone.build((None, 9, 6))
    np.testing.assert_array_equal(clone.context.numpy(), np.ones(5))


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
