"""EAC-Net (Li, Abtahi, Zhu and Yin, FG 2017) on VGG-19: FVGG, E-Net and EAC-Net.

- ``FVGG``: VGG-19 fine-tuned for AUs: fc6 4096 -> fc 2048 -> num_aus sigmoid, dropout, low
  groups frozen (paper section III-A).
- ``ENet``: FVGG plus two enhancing layers: ``group3_out = conv3_4 + conv3_1 * map`` and
  ``group4_out = conv4_4 + conv4_1 * map``, the attention map built from the landmarks inside
  the model (section III-B, eq. 1).
- ``EACNet``: E-Net plus the cropping net (C-Net): spatial LRN on group 4's output, a 3 x 3 crop
  around each of the 20 AU centres upsampled to 6 x 6, a 3 x 3 convolution and an fc 150 of its
  own for each region, concatenated with the E-Net's fc6 features -> fc 2048 -> dropout ->
  num_aus sigmoid (section III-C). Built on a trained E-Net as the paper trains it:
  ``EACNet(enet=trained_enet)`` copies the E-Net's VGG weights.

The 20 per-region convolutions and fully connected layers are two layers (``RegionConv2D``,
``RegionDense``), each one batched matrix product over all regions, not 20 layers.

Reference:
    Li, Abtahi, Zhu and Yin, "EAC-Net: A Region-based Deep Enhancing and Cropping Approach for
    Facial Action Unit Detection", FG 2017 (arXiv:1702.02925).
"""

from __future__ import annotations

import os
from typing import Any

import keras
from keras import ops

from tfau import faces
from tfau.layers import (
    AttentionEnhance,
    LandmarkAttention,
    LocalResponseNormalization,
    ROICrop,
)
from tfau.layers._patches import per_unit_initializer
from tfau.models.registry import register
from tfau.models.vgg import (
    VGG_GROUP_SIZES,
    apply_vgg_convs,
    apply_vgg_encoder,
    apply_vgg_fc,
    apply_vgg_pool,
    assign_vgg_weights,
    check_input_size,
    check_weights_argument,
    read_vgg_weights,
    vgg_filters,
    vgg_weights_from_model,
)

_TINY = {"input_size": 32, "num_aus": 3, "width": 1 / 16, "fc_units": 32, "head_units": 16}


@keras.saving.register_keras_serializable(package="tfau")
class EACNetROICentres(keras.layers.Layer):
    """EAC-Net's 20 AU centres (Table I) from 49-point landmarks, inside the model's graph.

    The C-Net crops its regions around the same 20 centres that shape the E-Net attention map;
    this layer computes them with ``tfau.faces.eacnet_roi_centres`` so that a model taking
    landmarks as input exports as one SavedModel. No weights, no gradient to the landmarks.

    Call arguments:
        inputs: landmarks ``(batch, 49, 2)`` (or 66 / 68 points), ``(x, y)`` image pixels.

    Output shape:
        ``(batch, 20, 2)`` centres in the same pixels.

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


@keras.saving.register_keras_serializable(package="tfau")
class RegionConv2D(keras.layers.Layer):
    """A valid 2D convolution with its own kernel for every region of a region stack.

    EAC-Net's C-Net gives each of its 20 cropped regions "independent convolutional layers";
    this layer holds the 20 kernels in one variable and applies them with one batched matrix
    product over the gathered ``kernel_size x kernel_size`` windows, so the graph does not
    grow with the number of regions.

    Args:
        filters: output channels per region.
        kernel_size: side of the square kernel. Defaults to 3.
        activation: activation of the output. Defaults to None.
        kernel_initializer: initializer of each region's kernel (fans of one region's
            kernel). Defaults to ``"glorot_uniform"``.
        bias_initializer: Defaults to ``"zeros"``.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: ``(batch, regions, height, width, channels)``, all but batch known.

    Output shape:
        ``(batch, regions, height - kernel_size + 1, width - kernel_size + 1, filters)``.

    Example:
        >>> RegionConv2D(512)(np.zeros((2, 20, 6, 6, 512))).shape
        TensorShape([2, 20, 4, 4, 512])

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-C.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        activation: str | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("filters", filters), ("kernel_size", kernel_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 5 or any(d is None for d in input_shape[1:]):
            raise ValueError(
                "`RegionConv2D` expects (batch, regions, height, width, channels) with known "
                f"regions, height, width and channels. Received: input_shape={input_shape}"
            )
        regions, height, width, channels = input_shape[1:]
        if min(height, width) < self.kernel_size:
            raise ValueError(
                f"Regions must be at least kernel_size={self.kernel_size} wide. Received: "
                f"height={height}, width={width}"
            )
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(regions, k * k * channels, self.filters),
            initializer=per_unit_initializer(
                self.kernel_initializer, (k, k, channels, self.filters)
            ),
        )
        self.bias = self.add_weight(
            name="bias", shape=(regions, self.filters), initializer=self.bias_initializer
        )

    def call(self, inputs: Any) -> Any:
        k = self.kernel_size
        height, width = inputs.shape[2] - k + 1, inputs.shape[3] - k + 1
        # The k*k shifted views, stacked in the kernel's (row, column, channel) order.
        windows = ops.concatenate(
            [inputs[:, :, i : i + height, j : j + width, :] for i in range(k) for j in range(k)],
            axis=-1,
        )
        # One batched matmul with the regions as its batch axis: (R, B*h*w, k*k*C) x
        # (R, k*k*C, F). On 2 CPU cores at EAC-Net's size (8 images, 20 regions, 512 -> 512)
        # its training step was 1.5x faster than the same einsum and 2x faster than a grouped
        # tf.nn.conv2d; with RegionDense, 1.2x faster than a 20-way loop of Conv2D + Dense.
        regions, depth = self.kernel.shape[0], self.kernel.shape[1]
        rows = ops.reshape(ops.transpose(windows, (1, 0, 2, 3, 4)), (regions, -1, depth))
        outputs = ops.matmul(rows, self.kernel) + self.bias[:, None, :]
        outputs = ops.reshape(outputs, (regions, -1, height, width, self.filters))
        outputs = ops.transpose(outputs, (1, 0, 2, 3, 4))
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        k = self.kernel_size
        batch, regions, height, width, _ = input_shape
        return (batch, regions, height - k + 1, width - k + 1, self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


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
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"`units` must be a positive integer. Received: units={units!r}")
        self.units = units
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


def _check_units(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_dropout(dropout: float) -> None:
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")


def _check_frozen_groups(frozen_groups: int) -> None:
    if isinstance(frozen_groups, bool) or frozen_groups not in range(5):
        raise ValueError(
            f"`frozen_groups` must be an integer from 0 to 4. Received: "
            f"frozen_groups={frozen_groups!r}"
        )


def _inputs(input_size: int, with_landmarks: bool) -> dict[str, Any]:
    height, width = check_input_size(input_size)
    inputs = {"image": keras.Input((height, width, 3), name="image")}
    if with_landmarks:
        inputs["landmarks"] = keras.Input((49, 2), name="landmarks")
    return inputs


def _apply_attention(landmarks: Any, image_size: tuple[int, int], *, prefix: str) -> Any:
    """EAC-Net's 100 x 100 attention map (eq. 1, 20 centres) from the landmarks, in the graph."""
    return LandmarkAttention(rule="eacnet", image_size=image_size, name=f"{prefix}_attention")(
        landmarks
    )


def _apply_groups_1_to_4(
    image: Any, attention: Any | None, *, prefix: str, width: float, frozen_groups: int
) -> Any:
    """VGG-19 groups 1-4 (pool after groups 1-3), enhanced after groups 3 and 4 if attention.

    Returns group 4's output before pool4 (28 x 28 x 512 for 224): C-Net crops it.
    """
    filters, sizes = vgg_filters(width), VGG_GROUP_SIZES[19]
    x = image
    for group in range(1, 5):
        name = f"{prefix}_block{group}"
        convs = apply_vgg_convs(
            x, filters[group - 1], sizes[group - 1], name=name, trainable=group > frozen_groups
        )
        x = convs[-1]
        if attention is not None and group in (3, 4):
            # group_out = conv{g}_4 + conv{g}_1 * map, the map resized to the feature size.
            x = AttentionEnhance(name=f"{name}_enhance")([convs[0], convs[-1], attention])
        if group < 4:
            x = apply_vgg_pool(x, name=name)
    return x


def _apply_group5_fc6(
    group4: Any, *, prefix: str, width: float, fc_units: int, dropout: float
) -> Any:
    """pool4 -> VGG-19 group 5 -> pool5 -> flatten -> fc6 (+ dropout)."""
    x = apply_vgg_pool(group4, name=f"{prefix}_block4")
    x = apply_vgg_convs(x, vgg_filters(width)[4], 4, name=f"{prefix}_block5")[-1]
    x = apply_vgg_pool(x, name=f"{prefix}_block5")
    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    return apply_vgg_fc(x, fc_units, name=f"{prefix}_fc6", dropout=dropout)


def _apply_au_head(x: Any, num_aus: int, *, prefix: str, units: int, dropout: float) -> Any:
    """The paper's new layers: fc ``units`` (2048) + dropout -> num_aus sigmoid (float32)."""
    x = apply_vgg_fc(x, units, name=f"{prefix}_head_fc", dropout=dropout)
    logits = keras.layers.Dense(num_aus, name=f"{prefix}_au_logits")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=f"{prefix}_au")(logits)


def _load(model: keras.Model, weights: str | os.PathLike | None) -> None:
    if weights is not None:
        assign_vgg_weights(
            model,
            read_vgg_weights(weights),
            prefixes=(model.name,),
            source=repr(os.fspath(weights)),
        )


@register(tiny_kwargs=_TINY)
def FVGG(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    head_units: int = 2048,
    dropout: float = 0.5,
    frozen_groups: int = 3,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds FVGG, EAC-Net's fine-tuned VGG-19 baseline.

    VGG-19 with fc6 (4096), then the paper's two new layers: fc 2048 and the ``num_aus``
    sigmoid outputs, with dropout after fc6 and fc 2048. The paper keeps "the first 3 groups"
    fixed (section III-A; the authors' code freezes groups 1-2: ``frozen_groups=2``).

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of AU outputs. Defaults to 12 (BP4D).
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of fc6. Defaults to 4096.
        head_units: units of the new fc layer. Defaults to 2048.
        dropout: dropout rate. Defaults to 0.5.
        frozen_groups: number of low convolution groups kept frozen. Defaults to 3.
        weights: None or a local VGG-19 weights file (convolutions and fc6 are loaded).

    Returns:
        A ``keras.Model`` named ``"fvgg"``: input ``"image"``, output ``{"au": (batch,
        num_aus)}``.

    Example:
        >>> model = FVGG(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
        >>> model.output_shape["au"]
        (None, 3)

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-A, Fig. 2.
    """
    _check_units(num_aus=num_aus, fc_units=fc_units, head_units=head_units)
    _check_dropout(dropout)
    _check_frozen_groups(frozen_groups)
    check_weights_argument(weights)
    inputs = _inputs(input_size, with_landmarks=False)
    x = apply_vgg_encoder(
        inputs["image"], depth=19, width=width, prefix="fvgg", frozen_groups=frozen_groups
    )
    x = keras.layers.Flatten(name="fvgg_flatten")(x)
    x = apply_vgg_fc(x, fc_units, name="fvgg_fc6", dropout=dropout)
    au = _apply_au_head(x, num_aus, prefix="fvgg", units=head_units, dropout=dropout)
    model = keras.Model(inputs, {"au": au}, name="fvgg")
    _load(model, weights)
    return model


@register(tiny_kwargs=_TINY)
def ENet(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    head_units: int = 2048,
    dropout: float = 0.5,
    frozen_groups: int = 2,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds E-Net: FVGG with EAC-Net's two enhancing (attention) layers.

    The landmarks give EAC-Net's attention map (20 AU centres, 11 x 11 areas with weight
    ``1 - 0.095 * manhattan distance`` on a 100 x 100 grid) inside the model; it enhances
    groups 3 and 4 in parallel with their convolutions: ``group3_out = conv3_4 + conv3_1 *
    map(56 x 56)``, ``group4_out = conv4_4 + conv4_1 * map(28 x 28)`` (the paper's figure
    multiplies the previous group's output; its channels differ from conv3_4's, so tfau takes
    the authors' code's conv3_1 / conv4_1). Groups 1-2 are kept frozen (section III-B).

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of AU outputs. Defaults to 12 (BP4D).
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of fc6. Defaults to 4096.
        head_units: units of the new fc layer. Defaults to 2048.
        dropout: dropout rate. Defaults to 0.5.
        frozen_groups: number of low convolution groups kept frozen. Defaults to 2.
        weights: None or a local VGG-19 weights file (convolutions and fc6 are loaded).

    Returns:
        A ``keras.Model`` named ``"enet"``: inputs ``"image"`` and ``"landmarks"`` ``(batch,
        49, 2)`` in image pixels, output ``{"au": (batch, num_aus)}``.

    Example:
        >>> model = ENet(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
        >>> sorted(model.input)
        ['image', 'landmarks']

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-B, eq. 1, Fig. 2-3.
    """
    _check_units(num_aus=num_aus, fc_units=fc_units, head_units=head_units)
    _check_dropout(dropout)
    _check_frozen_groups(frozen_groups)
    check_weights_argument(weights)
    inputs = _inputs(input_size, with_landmarks=True)
    image_size = check_input_size(input_size)
    attention = _apply_attention(inputs["landmarks"], image_size, prefix="enet")
    group4 = _apply_groups_1_to_4(
        inputs["image"], attention, prefix="enet", width=width, frozen_groups=frozen_groups
    )
    x = _apply_group5_fc6(group4, prefix="enet", width=width, fc_units=fc_units, dropout=dropout)
    au = _apply_au_head(x, num_aus, prefix="enet", units=head_units, dropout=dropout)
    model = keras.Model(inputs, {"au": au}, name="enet")
    _load(model, weights)
    return model


@register(tiny_kwargs={**_TINY, "region_units": 8})
def EACNet(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    head_units: int = 2048,
    region_units: int = 150,
    dropout: float = 0.5,
    frozen_groups: int = 2,
    fuse_enet: bool = True,
    enet: keras.Model | None = None,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds EAC-Net: E-Net plus the cropping net (C-Net), fused.

    C-Net (section III-C): a spatial local response normalisation (k=2, alpha=0.002,
    beta=0.75 over the 3 x 3 neighbourhood, eq. 2) of group 4's enhanced output (28 x 28 x
    512); for each of the 20 AU centres, a 3 x 3 crop (clamped inside the map) upscaled to
    6 x 6; per region its own 3 x 3 convolution (512, valid: 6 x 6 -> 4 x 4) and its own
    fc ``region_units`` (150). The 20 region features are concatenated with the E-Net's fc6
    features (``fuse_enet=True``: EAC-Net "fuses" E-Net and C-Net, and "the rest is similar to
    FVGG and E-Net") -> fc 2048 -> dropout 0.5 -> ``num_aus`` sigmoid. ``fuse_enet=False``
    feeds only the C-Net features to fc 2048.

    The paper trains C-Net on top of a trained E-Net: pass it as ``enet`` and its VGG layers
    (convolutions and fc6) are copied into this model.

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of AU outputs. Defaults to 12 (BP4D).
        width: VGG channel multiplier (also scales the region convolutions). Defaults to 1.0.
        fc_units: units of fc6. Defaults to 4096.
        head_units: units of the fc after the concatenation. Defaults to 2048.
        region_units: units of each region's fc. Defaults to 150.
        dropout: dropout rate. Defaults to 0.5.
        frozen_groups: number of low convolution groups kept frozen. Defaults to 2.
        fuse_enet: concatenate the E-Net's fc6 features with the C-Net's. Defaults to True.
        enet: a trained ``ENet`` of the same input size and width to start from.
        weights: None or a local VGG-19 weights file (ignored when ``enet`` is given).

    Returns:
        A ``keras.Model`` named ``"eacnet"``: inputs ``"image"`` and ``"landmarks"``, output
        ``{"au": (batch, num_aus)}``.

    Example:
        >>> enet = ENet(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
        >>> model = EACNet(input_size=32, num_aus=3, width=1 / 16, fc_units=32,
        ...                head_units=16, region_units=8, enet=enet)

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-C, eq. 2, Fig. 2.
    """
    _check_units(
        num_aus=num_aus, fc_units=fc_units, head_units=head_units, region_units=region_units
    )
    _check_dropout(dropout)
    _check_frozen_groups(frozen_groups)
    check_weights_argument(weights)
    if enet is not None and enet.name != "enet":
        raise ValueError(
            f"`enet` must be a model built by ENet (named 'enet'). Received a model named "
            f"{enet.name!r}."
        )
    inputs = _inputs(input_size, with_landmarks=True)
    image_size = check_input_size(input_size)
    attention = _apply_attention(inputs["landmarks"], image_size, prefix="eacnet")
    group4 = _apply_groups_1_to_4(
        inputs["image"], attention, prefix="eacnet", width=width, frozen_groups=frozen_groups
    )
    centres = EACNetROICentres(name="eacnet_cnet_centres")(inputs["landmarks"])
    x = LocalResponseNormalization(
        size=3, alpha=0.002, beta=0.75, bias=2.0, mode="spatial", name="eacnet_cnet_lrn"
    )(group4)
    x = ROICrop(crop_size=3, output_size=6, image_size=image_size, name="eacnet_cnet_crop")(
        [x, centres]
    )
    x = RegionConv2D(vgg_filters(width)[3], 3, activation="relu", name="eacnet_cnet_region_conv")(x)
    x = RegionDense(region_units, activation="relu", name="eacnet_cnet_region_fc")(x)
    features = keras.layers.Flatten(name="eacnet_cnet_flatten")(x)
    if fuse_enet:
        enet_features = _apply_group5_fc6(
            group4, prefix="eacnet", width=width, fc_units=fc_units, dropout=dropout
        )
        features = keras.layers.Concatenate(name="eacnet_fusion")([enet_features, features])
    au = _apply_au_head(features, num_aus, prefix="eacnet", units=head_units, dropout=dropout)
    model = keras.Model(inputs, {"au": au}, name="eacnet")
    if enet is not None:
        assign_vgg_weights(
            model, vgg_weights_from_model(enet, "enet"), prefixes=("eacnet",), source="`enet`"
        )
    else:
        _load(model, weights)
    return model
