"""Identity in the forward pass, scaled gradient in the backward pass (JAA-Net's enhancement)."""

import math
from numbers import Real

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfau")
class GradientScale(keras.layers.Layer):
    """Passes its input through unchanged and multiplies the gradient flowing back by `scale`.

    JAA-Net strengthens the supervision that the AU detection loss gives to the refined
    attention maps by multiplying that loss's gradient with respect to the maps by
    ``lambda3 = 2`` (eq. 5, "back-propagation enhancement"). Placing this layer between the
    refined maps and the local AU branches does exactly that: the forward value is the
    identity, and only the gradient that reaches the maps through this path is scaled. A
    refinement loss computed directly on the maps (not through this layer) is unaffected.
    ``scale=0`` stops the gradient and a negative ``scale`` reverses it.

    Args:
        scale: float, the factor applied to the incoming gradient. Must be finite.
            Defaults to ``2.0`` (JAA-Net's ``lambda3``).
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: a floating-point tensor of any shape.

    Input shape:
        Any.

    Output shape:
        Same as the input.

    Example:

    ```python
    import tensorflow as tf
    from tfau.layers import GradientScale

    x = tf.constant([1.0, -2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = GradientScale(scale=2.0)(x)
        loss = tf.reduce_sum(3.0 * y)
    print(y.numpy(), tape.gradient(loss, x).numpy())  # [ 1. -2.] [6. 6.]
    ```

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, section 3.3, eq. (5).
    """

    def __init__(self, scale: float = 2.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, Real) or not math.isfinite(scale):
            raise ValueError(f"`scale` must be a finite number. Received: scale={scale!r}")
        self.scale = float(scale)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        scale = self.scale

        @ops.custom_gradient
        def scale_gradient(x):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return ops.multiply(upstream, ops.cast(scale, upstream.dtype))

            # A fresh tensor, so that the custom gradient is attached to an op of its own.
            return ops.copy(x), grad

        return scale_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"scale": self.scale})
        return config
