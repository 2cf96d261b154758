"""Landmark attention maps (EAC-Net, JAA-Net) computed inside a Keras model."""

import keras
import numpy as np

from tfau import faces
from tfau.faces.attention import EACNET_SLOPE, JAANET_XI, JAANET_ZETA

_RULES = ("jaanet", "eacnet")


def _positive_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0


@keras.saving.register_keras_serializable(package="tfau")
class LandmarkAttention(keras.layers.Layer):
    """Turns facial landmarks into AU attention maps, inside the model's graph.

    EAC-Net enhances VGG features with one attention map built from 20 AU centres placed by
    rules on the landmarks (Table I): an 11 x 11 window on a 100 x 100 grid around each centre,
    weight ``1 - 0.095 * d`` (``d`` the Manhattan distance), maximum over centres. JAA-Net
    initialises one map per AU from its two centres (eq. 3): weight
    ``max(1 - d * xi / (map_size * zeta), 0)`` in a window of half-size
    ``round((map_size - 1) / 2 * zeta)``, built at ``l / 4 + 8`` (52 for a 176 input) so the
    refinement's unpadded convolutions end at ``l / 4``. Computing the maps in the graph lets a
    model take landmarks (given or predicted) as an input and still export as one SavedModel.
    The layer has no weights and passes no gradient to the landmarks; the values are those of
    ``tfau.faces.jaanet_attention_maps`` and ``tfau.faces.eacnet_attention_map``.

    Args:
        rule: ``"jaanet"`` (one map per AU) or ``"eacnet"``. Defaults to ``"jaanet"``.
        aus: AUs, one output channel each. Required for ``"jaanet"`` (among
            ``tfau.faces.JAANET_AUS``); for ``"eacnet"``, ``None`` (the default) gives the
            paper's single map and a list of ``tfau.faces.EACNET_AUS`` gives per-AU maps.
        image_size: int or ``(height, width)``, the image the landmarks' pixels refer to.
            Defaults to 176 for ``"jaanet"`` and 224 for ``"eacnet"``.
        map_size: side of the output maps. Defaults to ``image_size // 4 + 8`` (52) for
            ``"jaanet"`` and 100 for ``"eacnet"``.
        zeta: JAA-Net's window-to-map width ratio. Defaults to 0.14. ``"jaanet"`` only.
        xi: JAA-Net's decay coefficient. Defaults to 0.56. ``"jaanet"`` only.
        uniform: weight 1 inside every window (JAA-Net's "UA" ablation, Table 3).
            Defaults to False.
        centre_rounding: ``"half_pixel"`` (the map pixel that contains the centre) or
            ``"round"`` (JAA-Net's released code, which its trained models need). See
            ``tfau.faces.attention``. Defaults to ``"half_pixel"``. ``"jaanet"`` only.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: landmarks ``(batch, 49, 2)``, ``(x, y)`` in ``image_size`` pixels (66 or 68
            points are reduced to 49).

    Output shape:
        ``(batch, map_size, map_size, channels)``: ``len(aus)`` channels, or 1 for the single
        EAC-Net map.

    Example:

    ```python
    import numpy as np
    from tfau.layers import LandmarkAttention

    landmarks = np.random.uniform(40, 140, size=(2, 49, 2)).astype("float32")
    maps = LandmarkAttention("jaanet", aus=(1, 2, 4), image_size=176)(landmarks)
    print(maps.shape)  # (2, 52, 52, 3)
    enet_map = LandmarkAttention("eacnet", image_size=224)(landmarks)
    print(enet_map.shape)  # (2, 100, 100, 1)
    ```

    Reference:
        - Li et al., "EAC-Net: Deep Nets with Enhancing and Cropping for Facial Action Unit
          Detection", IEEE TPAMI 2018 (Sec. III-B).
        - Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and
          Face Alignment", ECCV 2018 (Sec. 3.3, eq. 3).
    """

    def __init__(
        self,
        rule: str = "jaanet",
        aus: tuple[int, ...] | list[int] | None = None,
        image_size: int | tuple[int, int] | None = None,
        map_size: int | None = None,
        zeta: float = JAANET_ZETA,
        xi: float = JAANET_XI,
        uniform: bool = False,
        centre_rounding: str = "half_pixel",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # Landmark pixel positions must stay float32 under a mixed-precision policy.
        self.autocast = False
        if rule not in _RULES:
            raise ValueError(f"`rule` must be one of {_RULES}. Received: rule={rule!r}")
        if aus is not None:
            aus = tuple(int(au) for au in aus)
            known = faces.JAANET_AUS if rule == "jaanet" else faces.EACNET_AUS
            if not aus or any(au not in known for au in aus):
                raise ValueError(
                    f"`aus` must list AUs among {known} for rule={rule!r}. Received: aus={aus}"
                )
        elif rule == "jaanet":
            raise ValueError(
                "`aus` is required for rule='jaanet' (one map per AU). Received: aus=None"
            )
        if image_size is None:
            image_size = 176 if rule == "jaanet" else 224
        if _positive_int(image_size):
            image_size = int(image_size)
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
        if map_size is None:
            width = image_size if isinstance(image_size, int) else image_size[1]
            map_size = faces.jaanet_map_size(width) if rule == "jaanet" else 100
        if not _positive_int(map_size):
            raise ValueError(
                f"`map_size` must be a positive integer. Received: map_size={map_size!r}"
            )
        if not zeta > 0:
            raise ValueError(f"`zeta` must be > 0. Received: zeta={zeta!r}")
        if not xi >= 0:
            raise ValueError(f"`xi` must be >= 0. Received: xi={xi!r}")
        if centre_rounding not in faces.CENTRE_ROUNDINGS:
            raise ValueError(
                f"`centre_rounding` must be one of {faces.CENTRE_ROUNDINGS}. "
                f"Received: centre_rounding={centre_rounding!r}"
            )
        self.rule = rule
        self.aus = aus
        self.image_size = image_size
        self.map_size = int(map_size)
        self.zeta = float(zeta)
        self.xi = float(xi)
        self.uniform = bool(uniform)
        self.centre_rounding = centre_rounding

    @property
    def channels(self) -> int:
        """Number of output maps."""
        return 1 if self.aus is None else len(self.aus)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[-1] != 2 or shape[1] not in (49, 66, 68):
            raise ValueError(
                "`LandmarkAttention` expects landmarks of shape (batch, 49, 2) (or 66 / 68 "
                f"points). Received: input_shape={shape}"
            )

    def call(self, inputs):
        landmarks = keras.ops.cast(inputs, "float32")
        if self.rule == "jaanet":
            maps = faces.jaanet_attention_maps(
                landmarks,
                self.aus,
                image_size=self.image_size,
                map_size=self.map_size,
                zeta=self.zeta,
                xi=self.xi,
                uniform=self.uniform,
                centre_rounding=self.centre_rounding,
            )
        else:
            maps = faces.eacnet_attention_map(
                landmarks,
                image_size=self.image_size,
                map_size=self.map_size,
                aus=self.aus,
                slope=0.0 if self.uniform else EACNET_SLOPE,
            )
        return keras.ops.cast(maps, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.map_size, self.map_size, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rule": self.rule,
                "aus": None if self.aus is None else list(self.aus),
                "image_size": (
                    self.image_size if isinstance(self.image_size, int) else list(self.image_size)
                ),
                "map_size": self.map_size,
                "zeta": self.zeta,
                "xi": self.xi,
                "uniform": self.uniform,
                "centre_rounding": self.centre_rounding,
            }
        )
        return config
