"""The papers' optimizers and learning-rate schedules from an `OptimizerSpec`."""

from __future__ import annotations

from typing import Any

import keras

from tfau.training.config import OptimizerSpec


def make_schedule(spec: OptimizerSpec, steps_per_epoch: int) -> Any:
    """The learning rate (a float or a Keras schedule of the optimizer's iterations).

    ``"step"``: ``lr * decay_factor ** floor(step / decay_steps)`` (DRML: x0.1 every 4k
    iterations); ``"epoch_step"``: the same every ``decay_epochs * steps_per_epoch`` steps
    (JAA-Net: x0.3 every 2 epochs).

    Args:
        spec: the optimizer spec.
        steps_per_epoch: training steps per epoch.

    Returns:
        A float or a ``keras.optimizers.schedules.ExponentialDecay`` with ``staircase=True``.

    Example:
        >>> lr = make_schedule(OptimizerSpec(schedule="epoch_step", decay_factor=0.3), 10)
        >>> round(float(lr(20)), 6)
        0.003
    """
    if spec.schedule == "constant":
        return float(spec.learning_rate)
    every = spec.decay_steps if spec.schedule == "step" else spec.decay_epochs * steps_per_epoch
    return keras.optimizers.schedules.ExponentialDecay(
        spec.learning_rate, decay_steps=every, decay_rate=spec.decay_factor, staircase=True
    )


def make_optimizer(
    spec: OptimizerSpec, steps_per_epoch: int, mixed_precision: str | None = None
) -> keras.optimizers.Optimizer:
    """SGD (momentum / Nesterov, weight decay) or Adam, wrapped for float16 loss scaling.

    Args:
        spec: the optimizer spec.
        steps_per_epoch: training steps per epoch (epoch schedules).
        mixed_precision: ``"mixed_float16"`` wraps it in a ``LossScaleOptimizer``.

    Returns:
        A Keras optimizer.

    Example:
        >>> make_optimizer(OptimizerSpec(name="adam", learning_rate=1e-4), 10).beta_1
        0.9
    """
    learning_rate = make_schedule(spec, steps_per_epoch)
    if spec.name == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate,
            momentum=spec.momentum,
            nesterov=spec.nesterov,
            weight_decay=spec.weight_decay,
        )
    elif spec.name == "adam":
        optimizer = keras.optimizers.Adam(
            learning_rate,
            beta_1=spec.beta_1,
            beta_2=spec.beta_2,
            epsilon=spec.epsilon,
            weight_decay=spec.weight_decay,
        )
    else:
        raise ValueError(f'`name` must be "sgd" or "adam". Received: name={spec.name!r}')
    if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
