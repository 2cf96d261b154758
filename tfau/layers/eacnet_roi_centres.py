"""EAC-Net's 20 region centres from landmarks, inside a model's graph."""

from typing import Any

import keras
from keras import ops

from tfau import faces


@keras.saving.register_keras_serializable(package="tfau")
class EACNetROICentres(keras.layers.Layer):
    """EAC-Net's 20 AU centres (Table I) from 49-point landmarks, inside the model's graph.

    The C-Net crops its regions around the same 20 centres that shape the E-Net attention map;
    this layer computes them with ``tfau.faces.eacnet_roi_centres`` so that a model taking
    landmarks as input exports as one SavedModel. No weights, no gradient to the landmarks.

    Call arguments:
        inputs: landmarks ``(batch, 49, 2)`` (or 66 / 68 points), ``(x, y)`` image pixels.

    Output shape:
        ``(batch, 20, 2)`` centres in the same pixels, float32 under any dtype policy
        (coordinates: float16 steps are 1/8 px from 128 to 256 px).

    Example:
        >>> EACNetROICentres()(np.random.uniform(60, 160, (2, 49, 2))).shape
        TensorShape([2, 20, 2])

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-B, Table I.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Pixel positions stay float32 under a mixed-precision policy.
        self.autocast = False

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3 or input_shape[-1] != 2 or input_shape[1] not in (49, 66, 68):
            raise ValueError(
                "`EACNetROICentres` expects landmarks of shape (batch, 49, 2) (or 66 / 68 "
                f"points). Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs: Any) -> Any:
        return ops.stop_gradient(faces.eacnet_roi_centres(ops.cast(inputs, "float32")))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], faces.NUM_EACNET_CENTRES, 2)

    def compute_output_spec(self, inputs: Any) -> keras.KerasTensor:
        # The policy's compute dtype would be Keras' default; call() returns float32.
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")
