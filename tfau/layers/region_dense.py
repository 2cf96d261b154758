"""A fully connected layer with its own weights per region (EAC-Net's C-Net)."""

from typing import Any

import keras
from keras import ops

from tfau.layers._patches import check_positive_int, per_unit_initializer


@keras.saving.register_keras_serializable(package="tfau")
class RegionDense(keras.layers.Layer):
    """A fully connected layer with its own weights for every region of a region stack.

    EAC-Net follows each region's convolution with "fully connected layers with a fixed size of
    150"; the 20 weight matrices live in one variable, applied with one batched matmul.

    Args:
        units: output units per region.
        activation: activation of the output. Defaults to None.
        kernel_initializer: initializer of each region's matrix (fans of one region).
            Defaults to ``"glorot_uniform"``.
        bias_initializer: Defaults to ``"zeros"``.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: ``(batch, regions, ...)``; everything after the region axis is flattened.

    Output shape:
        ``(batch, regions, units)``.

    Example:
        >>> RegionDense(150)(np.zeros((2, 20, 4, 4, 512))).shape
        TensorShape([2, 20, 150])

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-C.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) < 3 or any(d is None for d in input_shape[1:]):
            raise ValueError(
                "`RegionDense` expects (batch, regions, ...) with known sizes after the batch. "
                f"Received: input_shape={input_shape}"
            )
        regions = input_shape[1]
        features = 1
        for size in input_shape[2:]:
            features *= size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(regions, features, self.units),
            initializer=per_unit_initializer(self.kernel_initializer, (features, self.units)),
        )
        self.bias = self.add_weight(
            name="bias", shape=(regions, self.units), initializer=self.bias_initializer
        )

    def call(self, inputs: Any) -> Any:
        regions, features = self.kernel.shape[0], self.kernel.shape[1]
        flat = ops.transpose(ops.reshape(inputs, (-1, regions, features)), (1, 0, 2))
        # Regions as the batch axis of one batched matmul: (R, B, K) x (R, K, U).
        outputs = ops.transpose(ops.matmul(flat, self.kernel) + self.bias[:, None, :], (1, 0, 2))
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
