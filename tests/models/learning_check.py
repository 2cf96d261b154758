"""The SynthAU learning checks' bar: mean F1 above the all-"present" answer's by a margin."""

import numpy as np

import tfau.metrics


def assert_learns(name: str, labels, probabilities, margin: float = 0.15) -> np.ndarray:
    """Prints per-AU F1 beside chance and asserts ``mean F1 > mean chance + margin``.

    Chance is the F1 of predicting "present" for every frame, ``2r / (1 + r)`` with ``r`` the
    AU's rate in ``labels``. Returns the per-AU F1.
    """
    f1 = tfau.metrics.f1_frame(labels, probabilities)
    rates = np.asarray(labels).mean(axis=0)
    chance = 2 * rates / (1 + rates)
    print(f"{name} SynthAU test F1 per AU {np.round(f1, 3)}, chance {np.round(chance, 3)}")
    assert f1.mean() > chance.mean() + margin
    return f1
