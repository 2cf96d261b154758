import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau.layers import LocalResponseNormalization


def reference_lrn(x, size, alpha, beta, bias, mode, divide_alpha_by_window):
    """Plain-loop LRN in float64: zero-padded window, Caffe's alpha / n when asked."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    radius = size // 2
    if mode == "channel":
        a = alpha / size if divide_alpha_by_window else alpha
        channels = x.shape[-1]
        for c in range(channels):
            lo, hi = max(0, c - radius), min(channels, c + radius + 1)
            energy = np.sum(x[..., lo:hi] ** 2, axis=-1)
            out[..., c] = x[..., c] / (bias + a * energy) ** beta
        return out
    a = alpha / size**2 if divide_alpha_by_window else alpha
    _, height, width, _ = x.shape
    for i in range(height):
        for j in range(width):
            window = x[:, max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1]
            energy = np.sum(window**2, axis=(1, 2))
            out[:, i, j] = x[:, i, j] / (bias + a * energy) ** beta
    return out


def _features(shape=(2, 5, 4, 7), scale=3.0, seed=0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


DRML = dict(size=5, alpha=1e-4, beta=0.75, bias=1.0, mode="channel")
EAC_NET = dict(size=3, alpha=0.002, beta=0.75, bias=2.0, mode="spatial")


@pytest.mark.parametrize(
    ("kwargs", "divide"),
    [
        (DRML, True),  # Caffe convention (default in channel mode)
        ({**DRML, "alpha_scaling": "sum"}, False),
        (EAC_NET, False),  # EAC-Net eq. (2) (default in spatial mode)
        ({**EAC_NET, "alpha_scaling": "mean"}, True),
        (dict(size=3, alpha=0.5, beta=0.6, bias=1.5, mode="channel"), True),
        (dict(size=5, alpha=0.05, beta=1.0, bias=1.0, mode="spatial"), False),
    ],
)
def test_matches_numpy_reference(kwargs, divide):
    x = _features()
    layer = LocalResponseNormalization(**kwargs)
    expected = reference_lrn(
        x,
        kwargs["size"],
        kwargs["alpha"],
        kwargs["beta"],
        kwargs["bias"],
        kwargs["mode"],
        divide,
    )
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=2e-6, atol=1e-7)


def test_papers_values_and_alpha_conventions():
    drml = LocalResponseNormalization(**DRML)
    eac = LocalResponseNormalization(**EAC_NET)
    assert drml.effective_alpha == pytest.approx(2e-5)  # Caffe: 1e-4 / 5
    assert eac.effective_alpha == pytest.approx(0.002)  # eq. (2): alpha times the sum
    assert LocalResponseNormalization(**EAC_NET, alpha_scaling="mean").effective_alpha == (
        pytest.approx(0.002 / 9)
    )


def test_channel_mode_versus_tensorflow_lrn():
    # tf.nn.local_response_normalization multiplies alpha by the plain sum; Caffe (DRML)
    # multiplies alpha / size: the same op needs alpha / 5 to reproduce DRML.
    x = _features(scale=10.0)
    tf_sum = tf.nn.local_response_normalization(x, depth_radius=2, bias=1.0, alpha=1e-4, beta=0.75)
    tf_caffe = tf.nn.local_response_normalization(
        x, depth_radius=2, bias=1.0, alpha=1e-4 / 5, beta=0.75
    )
    drml = LocalResponseNormalization(**DRML)(x).numpy()
    summed = LocalResponseNormalization(**DRML, alpha_scaling="sum")(x).numpy()
    np.testing.assert_allclose(drml, tf_caffe.numpy(), rtol=1e-5)
    np.testing.assert_allclose(summed, tf_sum.numpy(), rtol=1e-5)
    assert not np.allclose(drml, summed, rtol=1e-3)


def test_channel_mode_on_vectors():
    x = _features(shape=(3, 6))
    expected = reference_lrn(x, 3, 0.1, 0.75, 1.0, "channel", True)
    out = LocalResponseNormalization(size=3, alpha=0.1)(x).numpy()
    np.testing.assert_allclose(out, expected, rtol=2e-6)


def test_gradient_matches_finite_differences():
    x = _features(shape=(1, 3, 3, 2), scale=4.0, seed=3)
    weights = np.random.default_rng(4).normal(size=x.shape)
    for kwargs in (EAC_NET, {**DRML, "size": 3, "alpha": 0.05}):
        layer = LocalResponseNormalization(**kwargs)
        divide = kwargs["mode"] == "channel"
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(tf.cast(weights, "float32") * layer(xt))
        gradient = tape.gradient(loss, xt).numpy()

        def objective(v, kwargs=kwargs, divide=divide):
            args = [kwargs[k] for k in ("size", "alpha", "beta", "bias", "mode")]
            return np.sum(weights * reference_lrn(v, *args, divide))

        numeric = np.zeros_like(gradient)
        eps = 1e-4
        for index in np.ndindex(x.shape):
            step = np.zeros(x.shape)
            step[index] = eps
            numeric[index] = (objective(x + step) - objective(x - step)) / (2 * eps)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kwargs", [DRML, {**EAC_NET, "alpha_scaling": "mean"}])
def test_layer_harness(kwargs):
    # Values of a few hundred: their squares overflow float16, so the layer must normalise
    # in float32 (EAC-Net's group-4 activations are "very large").
    loaded = run_layer_test(
        LocalResponseNormalization,
        kwargs,
        _features(scale=300.0),
        (2, 5, 4, 7),
        input_shape=(None, None, 7),
        expected_num_trainable_weights=0,
        inputs_with_gradient=(0,),
        mixed_precision_tolerance={"mixed_float16": 2e-3, "mixed_bfloat16": 1.6e-2},
        xla_tolerance=1e-6,
    )
    assert {key: getattr(loaded, key) for key in kwargs} == kwargs
    assert loaded.compute_output_shape((None, 5, None, 7)) == (None, 5, None, 7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(size=4), r"`size` must be an odd positive integer .* Received: size=4"),
        (dict(size=0), r"Received: size=0"),
        (dict(size=3.0), r"Received: size=3.0"),
        (dict(alpha=-1.0), r"`alpha` must be a non-negative number. Received: alpha=-1.0"),
        (dict(beta=float("nan")), r"`beta` must be a non-negative number. Received: beta=nan"),
        (dict(bias=0.0), r"`bias` must be a positive number. Received: bias=0.0"),
        (dict(mode="depth"), r"`mode` must be one of \('channel', 'spatial'\). Received: mode="),
        (dict(alpha_scaling="avg"), r"`alpha_scaling` must be one of .* alpha_scaling='avg'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalResponseNormalization(**kwargs)


def test_spatial_mode_needs_images():
    with pytest.raises(
        ValueError, match=r"'spatial' mode the input must be .*Received: input_shape=\(2, 6\)"
    ):
        LocalResponseNormalization(mode="spatial")(np.ones((2, 6), "float32"))


def test_channel_mode_needs_a_known_channel_count():
    with pytest.raises(ValueError, match=r"number of channels \(last axis\) must be known"):
        LocalResponseNormalization().build((None, 8, 8, None))


def test_needs_a_channel_axis():
    with pytest.raises(ValueError, match=r"at least a batch and a channel axis.*\(4,\)"):
        LocalResponseNormalization().build((4,))
