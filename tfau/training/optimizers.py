"""The papers' optimizers and learning-rate schedules from an `OptimizerSpec`.

`make_optimizer` returns `FusedSGD` / `FusedAdam`: Keras' SGD and Adam with each variable's
update done by one TensorFlow training kernel (``ResourceApplyKerasMomentum``,
``ResourceApplyAdam``) instead of Keras' separate element-wise ops, each of which makes a
pass over the variable (DRML: 57 M parameters; a training step 1.09-1.13x faster, AUNet's
VGG-16 with Adam 1.09-1.11x).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfau.training.config import OptimizerSpec


def make_schedule(spec: OptimizerSpec, steps_per_epoch: int, epochs: int | None = None) -> Any:
    """The learning rate (a float or a Keras schedule of the optimizer's iterations).

    ``"step"``: ``lr * decay_factor ** floor(step / decay_steps)`` (DRML: x0.1 every 4k
    iterations); ``"epoch_step"``: the same every ``decay_epochs * steps_per_epoch`` steps
    (JAA-Net: x0.3 every 2 epochs); ``"cosine"``: linear from ``lr / 10`` to ``lr`` over
    ``warmup_epochs``, then ``lr * (1 + cos(pi * t)) / 2`` with ``t`` going from 0 to 1 over
    the remaining steps of ``epochs``.

    Args:
        spec: the optimizer spec.
        steps_per_epoch: training steps per epoch.
        epochs: epochs of the whole run (``"cosine"`` ends its decay there).

    Returns:
        A float, a ``keras.optimizers.schedules.ExponentialDecay`` with ``staircase=True`` or
        a ``keras.optimizers.schedules.CosineDecay``.

    Raises:
        ValueError: ``"cosine"`` without ``epochs``, or a warm-up as long as the run.

    Example:
        >>> lr = make_schedule(OptimizerSpec(schedule="epoch_step", decay_factor=0.3), 10)
        >>> round(float(lr(20)), 6)
        0.003
    """
    if spec.schedule == "constant":
        return float(spec.learning_rate)
    if spec.schedule == "cosine":
        total = None if epochs is None else epochs * steps_per_epoch
        warmup = round(spec.warmup_epochs * steps_per_epoch)
        if total is None or not warmup < total:
            raise ValueError(
                'The "cosine" schedule needs the run\'s length, longer than its warm-up. '
                f"Received: epochs={epochs}, steps_per_epoch={steps_per_epoch}, "
                f"warmup_epochs={spec.warmup_epochs}"
            )
        if not warmup:
            return keras.optimizers.schedules.CosineDecay(spec.learning_rate, total)
        return keras.optimizers.schedules.CosineDecay(
            spec.learning_rate / 10,
            total - warmup,
            warmup_target=spec.learning_rate,
            warmup_steps=warmup,
        )
    every = spec.decay_steps if spec.schedule == "step" else spec.decay_epochs * steps_per_epoch
    return keras.optimizers.schedules.ExponentialDecay(
        spec.learning_rate, decay_steps=every, decay_rate=spec.decay_factor, staircase=True
    )


def make_optimizer(
    spec: OptimizerSpec,
    steps_per_epoch: int,
    mixed_precision: str | None = None,
    epochs: int | None = None,
) -> keras.optimizers.Optimizer:
    """SGD (momentum / Nesterov, weight decay) or Adam, wrapped for float16 loss scaling.

    Args:
        spec: the optimizer spec.
        steps_per_epoch: training steps per epoch (epoch schedules).
        mixed_precision: ``"mixed_float16"`` wraps it in a ``LossScaleOptimizer``.
        epochs: epochs of the whole run (the ``"cosine"`` schedule).

    Returns:
        A Keras optimizer.

    Example:
        >>> make_optimizer(OptimizerSpec(name="adam", learning_rate=1e-4), 10).beta_1
        0.9
    """
    learning_rate = make_schedule(spec, steps_per_epoch, epochs)
    if spec.name == "sgd":
        optimizer = FusedSGD(
            learning_rate,
            momentum=spec.momentum,
            nesterov=spec.nesterov,
            weight_decay=spec.weight_decay,
        )
    elif spec.name == "adam":
        optimizer = FusedAdam(
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


def _decay_weights(optimizer: Any, variable: Any, learning_rate: Any) -> None:
    """Keras' decoupled weight decay of one variable, ``variable -= variable * (wd * lr)``, in
    one kernel (Keras' ``variable * wd * lr``, which TensorFlow's graph optimizer regroups to
    the same products)."""
    if optimizer.weight_decay is not None and optimizer._use_weight_decay(variable):
        rate = tf.cast(optimizer.weight_decay, variable.dtype) * tf.cast(
            learning_rate, variable.dtype
        )
        tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=rate, delta=variable)


@keras.saving.register_keras_serializable(package="tfau")
class FusedSGD(keras.optimizers.SGD):
    """Keras' SGD whose weight decay and momentum update are one fused kernel each.

    The same arguments, variables (checkpoints load either way) and, in a ``tf.function``,
    bitwise the same results as ``keras.optimizers.SGD``: ``ResourceApplyKerasMomentum``
    computes Keras' momentum formula (also the Nesterov form) in one pass over the variable,
    its momentum and its gradient, and the weight decay is applied to each variable just
    before its update (Keras decays every variable, then updates every variable; each
    variable sees the same two steps in the same order).

    Example:
        >>> optimizer = FusedSGD(0.01, momentum=0.9, weight_decay=5e-4)
        >>> weights = [keras.Variable([1.0, -2.0])]
        >>> optimizer.apply([tf.constant([0.5, 0.5])], weights)
        >>> [round(float(w), 6) for w in weights[0].numpy()]
        [0.994995, -2.00499]
    """

    def _apply_weight_decay(self, variables: Any) -> None:
        """No separate pass: `update_step` decays each variable before updating it."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        _decay_weights(self, variable, learning_rate)
        if self.momentum == 0 or isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            return
        momentum = self.momentums[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle,
            accum=momentum.value.handle,
            lr=tf.cast(learning_rate, variable.dtype),
            grad=tf.cast(gradient, variable.dtype),
            momentum=tf.cast(self.momentum, variable.dtype),
            use_nesterov=self.nesterov,
        )


@keras.saving.register_keras_serializable(package="tfau")
class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam whose update of each variable is one ``ResourceApplyAdam`` kernel.

    The same arguments and variables as ``keras.optimizers.Adam`` and the same formula, but
    not bitwise the same results: the kernel computes ``1 - beta_2`` in float32 (9.99987e-4
    for 0.999), as in the bias correction ``1 - beta_2 ** t``, where Keras scales the second
    moment by a Python ``1 - 0.999`` (1.0e-3), so Keras' steps are 6.4e-6 (relative) larger.
    ``amsgrad`` and sparse gradients take Keras' path.

    Example:
        >>> optimizer = FusedAdam(0.1)
        >>> weights = [keras.Variable([1.0, -2.0])]
        >>> optimizer.apply([tf.constant([0.5, -0.5])], weights)
        >>> [round(float(w), 4) for w in weights[0].numpy()]
        [0.9, -1.9]
    """

    def _apply_weight_decay(self, variables: Any) -> None:
        """No separate pass: `update_step` decays each variable before updating it."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        _decay_weights(self, variable, learning_rate)
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            return
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )
