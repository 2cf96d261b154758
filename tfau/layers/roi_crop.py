"""EAC-Net's cropping layer: a small feature window around each AU centre, upsampled."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

_INTERPOLATIONS = ("nearest", "bilinear")


def _positive_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0


def _bilinear_matrix(source: int, target: int) -> np.ndarray:
    """(target, source) weights of a half-pixel bilinear resize, clamped at the edges."""
    positions = np.clip((np.arange(target) + 0.5) * source / target - 0.5, 0, source - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, source - 1)
    weight_high = positions - low
    matrix = np.zeros((target, source))
    np.add.at(matrix, (np.arange(target), low), 1.0 - weight_high)
    np.add.at(matrix, (np.arange(target), high), weight_high)
    return matrix


@keras.saving.register_keras_serializable(package="tfau")
class ROICrop(keras.layers.Layer):
    """Crops a ``crop_size`` window of a feature map around each AU centre and upsamples it.

    EAC-Net's C-Net crops, for each of its 20 AU centres, a 3 x 3 window of the 28 x 28 x 512
    group-4 feature map (an 11 x 11 region of the 100 x 100 attention grid, scaled to the
    feature map), then upscales it x2 to 6 x 6 before the region's own convolution. The
    centres are given in the pixel coordinates of the input image (as landmarks are), so
    landmark-derived centres pass unchanged; the layer maps them onto the feature map.

    Sampling, exactly (``H x W`` feature map, image ``image_height x image_width``):

    1. Centre cell: ``col = floor((x + 0.5) * W / image_width)`` and
       ``row = floor((y + 0.5) * H / image_height)``, i.e. the cell whose span of image
       pixels contains pixel ``(x, y)`` (pixel ``i`` spans ``[i - 0.5, i + 0.5)``; with
       224 -> 28, cell ``c`` holds pixels ``8c .. 8c + 7``), clipped to the map.
    2. Window: rows ``top .. top + crop_size - 1`` with
       ``top = clip(row - (crop_size - 1) // 2, 0, H - crop_size)``, likewise for columns:
       the window is centred on the cell and shifted, never shrunk, to stay inside the map
       (the authors clamp the centres inside the map).
    3. Upsampling of the ``crop_size x crop_size`` window to ``output_size x output_size`` as
       ``tf.image.resize`` would do on the crop alone (half-pixel centres, no antialiasing):
       ``"nearest"`` takes source index ``floor((i + 0.5) * crop_size / output_size)``, which
       for ``output_size = 2 * crop_size`` repeats every cell twice (the paper's x2
       upscaling, 3 -> 6); ``"bilinear"`` interpolates at
       ``(i + 0.5) * crop_size / output_size - 0.5``, clamped to the window, so no value
       outside the window leaks in.

    The window is gathered (no resampling of the whole map) and the upsampling uses fixed
    per-axis index or weight tables, so the layer is vectorised over batch and centres,
    XLA-compatible, and its gradient reaches exactly the cropped cells. Centres are kept in
    float32 under mixed precision (float16 cannot represent every pixel position of a large
    image); the feature values are cast to the compute dtype.

    Args:
        crop_size: positive int, the window side in feature cells. Defaults to ``3``.
        output_size: positive int, the side of each output region. Defaults to ``6``.
        image_size: positive int or ``(height, width)``, the size of the image the centres
            refer to. Defaults to ``224`` (EAC-Net).
        interpolation: ``"nearest"`` or ``"bilinear"``. Defaults to ``"nearest"``.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: list ``[feature_map, centres]``: ``feature_map`` of shape
            ``(batch, height, width, channels)``; ``centres`` of shape
            ``(batch, num_regions, 2)``, ``(x, y)`` in input-image pixels.

    Output shape:
        ``(batch, num_regions, output_size, output_size, channels)``.

    Example:

    ```python
    import numpy as np
    from tfau.layers import ROICrop

    group4 = np.random.rand(2, 28, 28, 512).astype("float32")
    centres = np.random.uniform(0, 224, size=(2, 20, 2)).astype("float32")
    regions = ROICrop(crop_size=3, output_size=6, image_size=224)([group4, centres])
    print(regions.shape)  # (2, 20, 6, 6, 512)
    ```

    Reference:
        Li, Abtahi, Zhu and Yin, "EAC-Net: A Region-based Deep Enhancing and Cropping
        Approach for Facial Action Unit Detection", FG 2017, section III-C.
    """

    def __init__(
        self,
        crop_size: int = 3,
        output_size: int = 6,
        image_size: int | tuple[int, int] = 224,
        interpolation: str = "nearest",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # Centres must not be cast to float16 by the mixed-precision policy.
        self.autocast = False
        if not _positive_int(crop_size):
            raise ValueError(
                f"`crop_size` must be a positive integer. Received: crop_size={crop_size!r}"
            )
        if not _positive_int(output_size):
            raise ValueError(
                f"`output_size` must be a positive integer. Received: output_size={output_size!r}"
            )
        if _positive_int(image_size):
            image_size = (int(image_size), int(image_size))
        elif (
            isinstance(image_size, list | tuple)
            and len(image_size) == 2
            and all(_positive_int(v) for v in image_size)
        ):
            image_size = (int(image_size[0]), int(image_size[1]))
        else:
            raise ValueError(
                "`image_size` must be a positive integer or a (height, width) pair of positive "
                f"integers. Received: image_size={image_size!r}"
            )
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"`interpolation` must be one of {_INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.crop_size = int(crop_size)
        self.output_size = int(output_size)
        self.image_size = image_size
        self.interpolation = interpolation

    def build(self, input_shape):
        if not isinstance(input_shape, list | tuple) or len(input_shape) != 2:
            raise ValueError(
                "`ROICrop` expects a list of 2 inputs [feature_map, centres]. "
                f"Received: input_shape={input_shape}"
            )
        map_shape, centres_shape = tuple(input_shape[0]), tuple(input_shape[1])
        if len(map_shape) != 4:
            raise ValueError(
                "`feature_map` must be (batch, height, width, channels). "
                f"Received: feature_map shape={map_shape}"
            )
        if len(centres_shape) != 3 or centres_shape[-1] != 2:
            raise ValueError(
                "`centres` must be (batch, num_regions, 2) with (x, y) per region. "
                f"Received: centres shape={centres_shape}"
            )
        for axis_name, extent in (("height", map_shape[1]), ("width", map_shape[2])):
            if extent is not None and extent < self.crop_size:
                raise ValueError(
                    f"The feature map {axis_name} must be at least `crop_size`. "
                    f"Received: crop_size={self.crop_size}, {axis_name}={extent}"
                )

    def _window_start(self, coordinate, extent, image_extent: int):
        """First cell of the window along one axis, for (batch, regions) coordinates."""
        extent_f = ops.cast(extent, "float32")
        cell = ops.floor((coordinate + 0.5) * extent_f / image_extent)
        cell = ops.clip(cell, 0.0, extent_f - 1.0)
        start = cell - (self.crop_size - 1) // 2
        start = ops.clip(start, 0.0, extent_f - self.crop_size)
        return ops.cast(start, "int32")

    def call(self, inputs):
        feature_map, centres = inputs
        feature_map = ops.cast(feature_map, self.compute_dtype)
        centres = ops.cast(centres, "float32")
        batch, height, width, _ = ops.shape(feature_map)
        num_regions = ops.shape(centres)[1]
        k = self.crop_size
        top = self._window_start(centres[..., 1], height, self.image_size[0])
        left = self._window_start(centres[..., 0], width, self.image_size[1])
        offsets = ops.arange(k, dtype="int32")
        rows = ops.expand_dims(top, -1) + offsets  # (batch, regions, k)
        cols = ops.expand_dims(left, -1) + offsets
        # tf.gather with batch_dims picks a different window per image and region without
        # materialising anything larger than the crops; XLA lowers it to a plain gather.
        picked_rows = tf.gather(
            feature_map, ops.reshape(rows, (batch, num_regions * k)), axis=1, batch_dims=1
        )
        picked_rows = ops.reshape(picked_rows, (batch, num_regions, k, width, -1))
        crops = tf.gather(picked_rows, cols, axis=3, batch_dims=2)  # (b, r, k, k, c)
        return self._upsample(crops)

    def _upsample(self, crops):
        k, s = self.crop_size, self.output_size
        if s == k:
            return crops
        if self.interpolation == "nearest":
            source = np.minimum(np.floor((np.arange(s) + 0.5) * k / s), k - 1).astype("int32")
            return ops.take(ops.take(crops, source, axis=2), source, axis=3)
        matrix = ops.convert_to_tensor(_bilinear_matrix(k, s), dtype=crops.dtype)
        crops = ops.einsum("ik,brkwc->briwc", matrix, crops)
        return ops.einsum("jw,briwc->brijc", matrix, crops)

    def compute_output_shape(self, input_shape):
        map_shape, centres_shape = input_shape
        return (map_shape[0], centres_shape[1], self.output_size, self.output_size, map_shape[3])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "crop_size": self.crop_size,
                "output_size": self.output_size,
                "image_size": self.image_size,
                "interpolation": self.interpolation,
            }
        )
        return config
