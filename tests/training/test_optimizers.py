"""FusedSGD / FusedAdam against the Keras optimizers they replace, inside a tf.function."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfau.training import OptimizerSpec, make_optimizer
from tfau.training.optimizers import FusedAdam, FusedSGD

_SHAPES = ((33, 17), (3, 3, 4, 5), (7,))


def _trained_weights(optimizer, steps=4):
    """Weights after ``steps`` updates with fixed random gradients, as the Trainer applies
    them (``optimizer.apply`` in a ``tf.function``)."""
    rng = np.random.default_rng(0)
    weights = [keras.Variable(rng.normal(0, 0.5, shape).astype("float32")) for shape in _SHAPES]
    gradients = [
        [tf.constant(rng.normal(0, 1, shape).astype("float32")) for shape in _SHAPES]
        for _ in range(steps)
    ]
    optimizer.build(weights)
    apply = tf.function(lambda grads: optimizer.apply(grads, weights))
    for grads in gradients:
        apply(grads)
    return [w.numpy() for w in weights]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"momentum": 0.9, "weight_decay": 0.1},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
        {"momentum": 0.0},
    ],
)
def test_fused_sgd_equals_keras_sgd(kwargs):
    # A step schedule (x0.5 every 2 steps) checks that the decay uses the step's rate; a
    # weight decay of 0.1 makes decaying after the update instead of before it visible (1e-3).
    rate = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5, staircase=True)
    expected = _trained_weights(keras.optimizers.SGD(rate, **kwargs))
    fused = _trained_weights(FusedSGD(rate, **kwargs))
    for want, got in zip(expected, fused, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs", [{"beta_1": 0.5}, {"weight_decay": 0.1}])
def test_fused_adam_equals_keras_adam(kwargs):
    # Steps are about 1e-2; they differ by ~6.4e-6 of a step (1 - beta_2 rounded in float32
    # by the kernel, from a Python float by Keras): 2.6e-7 after 4 steps. A wrong bias
    # correction or weight decay is off by 1e-4 or more.
    expected = _trained_weights(keras.optimizers.Adam(0.01, **kwargs))
    fused = _trained_weights(FusedAdam(0.01, **kwargs))
    for want, got in zip(expected, fused, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_make_optimizer_returns_the_fused_optimizers():
    sgd = make_optimizer(OptimizerSpec(nesterov=True, weight_decay=5e-4), 10)
    assert isinstance(sgd, FusedSGD) and sgd.nesterov and sgd.weight_decay == 5e-4
    adam = make_optimizer(OptimizerSpec(name="adam", beta_1=0.5), 10, "mixed_float16")
    assert isinstance(adam, keras.optimizers.LossScaleOptimizer)
    assert isinstance(adam.inner_optimizer, FusedAdam) and adam.inner_optimizer.beta_1 == 0.5
