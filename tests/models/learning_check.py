"""The SynthAU learning checks' bar: mean F1 above the all-"present" answer's by a margin."""

import os

import keras
import numpy as np

import tfau.metrics

#: Seed of the learning checks' SynthAU data and of their networks' initial weights and
#: shuffling. ``TFAU_LEARNING_SEED=1 pytest -m slow tests/models -k learns`` reruns them on
#: other faces from other weights: their margins must not hinge on one draw.
LEARNING_SEED = int(os.environ.get("TFAU_LEARNING_SEED", "0"))


def cosine_adam(learning_rate: float, epochs: int, steps_per_epoch: int) -> keras.Optimizer:
    """Adam whose learning rate decays to 0 along a cosine over the whole run.

    With a constant rate the checks' mean F1 moved by up to 0.05 from one epoch to the next;
    the decay lets the last epochs settle, so the outcome does not hinge on where it stops.
    """
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
    return keras.optimizers.Adam(schedule)


def assert_learns(name: str, labels, probabilities, margin: float = 0.15) -> np.ndarray:
    """Prints per-AU F1 beside chance and asserts ``mean F1 > mean chance + margin``.

    Chance is the F1 of predicting "present" for every frame, ``2r / (1 + r)`` with ``r`` the
    AU's rate in ``labels``. Returns the per-AU F1.
    """
    f1 = tfau.metrics.f1_frame(labels, probabilities)
    rates = np.asarray(labels).mean(axis=0)
    chance = 2 * rates / (1 + rates)
    bar = chance.mean() + margin
    report = (
        f"{name} SynthAU test F1 per AU {np.round(f1, 3)} mean {f1.mean():.3f}; chance "
        f"{np.round(chance, 3)} mean {chance.mean():.3f}; bar {bar:.3f} (chance + {margin}), "
        f"margin over the bar {f1.mean() - bar:+.3f}"
    )
    print(report)
    assert f1.mean() > bar, report
    return f1
