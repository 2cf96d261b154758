"""JAA-Net: joint AU detection and face alignment with adaptive attention (Shao et al. 2018).

Layout (``l = input_size``, ``c`` the width unit, ``A`` the number of AUs), Fig. 1 and 3:

- region learning: two blocks (hierarchical multi-scale region layer, 4c then 8c channels),
  each followed by a 2 x 2 max-pool: "pool2", ``l/4 x l/4 x 8c`` (44 x 44 x 64 for 176);
- face alignment: 3 x [conv-BN-ReLU x 2, max-pool] with 12c / 16c / 20c channels (on
  ``l/4``, ``l/8``, ``l/16``), flatten, fc ``d``, fc ``2 x 49``: landmarks in input pixels;
- global features: the same convolutional structure as the alignment branch, on pool2;
- adaptive attention: initial maps from the *predicted* landmarks (eq. 3, ``l/4 + 8``
  pixels, no gradient to the landmarks), refined per AU by four unpadded 3 x 3 convolutions
  and a sigmoid (``l/4``), back-propagation enhancement ``lambda3`` on the AU-loss path only
  (eq. 5), then one local branch per AU on ``pool2 x refined map``, summed over AUs (the
  authors' code averages them: ``local_reduction="mean"``);
- AU detection: concat(alignment, global, local features) -> fc ``d`` -> fc ``2A`` -> a
  2-way softmax per AU; ``"au"`` is the probability of occurrence.

Channel counts. The paper writes the blocks as ``R_hm(l, l, c)``, ``R_hm(l/2, l/2, 2c)``,
``P(l/4, l/4, 3c)``, ``P(l/8, l/8, 4c)``, ``P(l/16, l/16, 5c)`` with c = 8, but its parameter
count in Sec. 4.3 shows that a block written with ``c1`` has ``4 c1`` channels. The blocks
therefore have 32 / 64 / 96 / 128 / 160 channels, which is what the authors' Caffe and
PyTorch code use and what gives their 22.2 M parameters.

Where the paper and the authors' code disagree, this follows the paper where it is explicit
and the code otherwise: every convolution outside the refinement is 3 x 3 / 1 / 1 (the
released Caffe model starts each local branch with a stride-2 convolution:
``local_first_stride=2``); pools round down (PyTorch; Caffe rounds up); the fully connected
layers have no nonlinearity between them (both codes); the refined maps multiply pool2
directly (both codes; the paper's zoom-and-crop "new pool2" is not applied). The authors'
PyTorch code, which their released models need, also differs where the paper is silent or
says otherwise; each difference is an option (``tfau.convert.jaanet`` sets them all):
attention centres rounded as theirs (``centre_rounding="round"``), local branches averaged
(``local_reduction="mean"``), BatchNorm epsilon 1e-5 (``bn_epsilon``); their refinement
target, a nearest resize of the initial maps, is the default (``attention_target``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from tfau.aus import BP4D_AUS
from tfau.faces import CENTRE_ROUNDINGS, JAANET_AUS
from tfau.faces.attention import JAANET_XI, JAANET_ZETA
from tfau.layers import (
    AttentionRefinement,
    GradientScale,
    HierarchicalMultiScaleRegion,
    LandmarkAttention,
    NearestResize,
    RegionLayer,
)
from tfau.layers.local_au_branches import LocalAUBranches, branch_output_size
from tfau.models.registry import register

#: Number of landmarks the alignment branch predicts (the AU-centre rule needs 49 points).
NUM_LANDMARKS = 49

# Layer names after the model's name (``jaanet_attention_refinement``): the layers whose
# weights hold one slice per AU, which a start from another AU set copies AU by AU.
#: The attention refinement (`tfau.layers.AttentionRefinement`): per-AU convolutions.
ATTENTION_REFINEMENT_LAYER = "attention_refinement"
#: The local AU branches (`tfau.layers.LocalAUBranches`): per-AU convolutions.
LOCAL_BRANCHES_LAYER = "local"
#: Prefix of the AU head's layers (``au_fc1``, ``au_fc2``, ``au_probability``).
AU_HEAD = "au"
#: The AU head's dense layer of ``2 A`` outputs: the ``A`` "absent" logits, then the ``A``
#: "present" ones (`apply_au_head`).
AU_CLASSIFIER_LAYER = f"{AU_HEAD}_fc2"

_REGIONS = ("hierarchical", "drml", "none")
_DISTRIBUTIONS = ("gaussian", "uniform")
_REDUCTIONS = ("sum", "mean")
_ATTENTION_TARGETS = ("nearest", "crop")
# Three [conv x 2, max-pool] stages with 3c, 4c, 5c "block units" of 4 channels each.
_STAGE_UNITS = (12, 16, 20)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def apply_conv_bn_relu(x, filters: int, name: str, bn_epsilon: float = 1e-3):
    """3 x 3 / 1 / 1 convolution, BatchNorm and ReLU (every convolution of JAA-Net's trunk)."""
    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=bn_epsilon, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def apply_conv_stages(x, filters: Sequence[int], name: str, bn_epsilon: float = 1e-3):
    """``len(filters)`` x [conv-BN-ReLU x 2, 2 x 2 max-pool]: the alignment / global module."""
    for stage, stage_filters in enumerate(filters, start=1):
        for conv in (1, 2):
            x = apply_conv_bn_relu(x, stage_filters, f"{name}_{stage}_{conv}", bn_epsilon)
        x = keras.layers.MaxPooling2D(2, name=f"{name}_{stage}_pool")(x)
    return x


def apply_region_block(x, filters: int, region: str, name: str, bn_epsilon: float = 1e-3):
    """One region-learning block (``filters`` channels) followed by a 2 x 2 max-pool.

    ``"hierarchical"``: JAA-Net's hierarchical multi-scale region layer (Fig. 2a; the layer
    includes its first convolution, residual sum, BatchNorm and ReLU). ``"drml"``: DRML's
    region layer on an 8 x 8 grid after the common first convolution (Fig. 2b, "R-Net"),
    with BatchNorm and ReLU after the residual sum like the hierarchical block. ``"none"``:
    plain stacked convolutions, two conv-BN-ReLU (Fig. 2c).
    """
    if region == "hierarchical":
        x = HierarchicalMultiScaleRegion(filters, epsilon=bn_epsilon, name=f"{name}_hmr")(x)
    elif region == "drml":
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
        x = RegionLayer(grid_size=8, epsilon=bn_epsilon, name=f"{name}_region")(x)
        x = keras.layers.BatchNormalization(epsilon=bn_epsilon, name=f"{name}_bn")(x)
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    else:
        x = apply_conv_bn_relu(x, filters, f"{name}_1", bn_epsilon)
        x = apply_conv_bn_relu(x, filters, f"{name}_2", bn_epsilon)
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def apply_au_head(features, num_aus: int, d: int, name: str):
    """fc ``d`` -> fc ``2 A`` -> softmax over (absent, present) per AU -> P(present).

    The ``2 A`` outputs are the ``A`` "absent" logits followed by the ``A`` "present" logits
    (the authors' two fully connected outputs ``au_fc_1`` / ``au_fc_2``).
    """
    x = keras.layers.Dense(d, name=f"{name}_fc1")(features)
    x = keras.layers.Dense(2 * num_aus, name=f"{name}_fc2")(x)
    x = keras.layers.Reshape((2, num_aus), name=f"{name}_logits")(x)
    x = keras.layers.Softmax(axis=1, dtype="float32", name=f"{name}_softmax")(x)
    x = keras.layers.Cropping1D((1, 0), dtype="float32", name=f"{name}_present")(x)
    return keras.layers.Flatten(dtype="float32", name=f"{name}_probability")(x)


def _resolve_aus(num_aus: int | None, aus: Sequence[int] | None) -> tuple[int, ...]:
    if aus is None:
        if num_aus is None:
            return BP4D_AUS
        _check_positive_int(num_aus, "num_aus")
        if num_aus > len(BP4D_AUS):
            raise ValueError(
                f"Without `aus`, `num_aus` selects the first BP4D AUs {BP4D_AUS} and must be at "
                f"most {len(BP4D_AUS)}; pass `aus` for other AUs. Received: num_aus={num_aus}"
            )
        return BP4D_AUS[:num_aus]
    aus = tuple(aus)
    if not aus or any(isinstance(au, bool) or au not in JAANET_AUS for au in aus):
        raise ValueError(
            f"`aus` must list AUs with JAA-Net attention centres, among {JAANET_AUS}. "
            f"Received: aus={aus!r}"
        )
    if len(set(aus)) != len(aus):
        raise ValueError(f"`aus` must not repeat an AU. Received: aus={aus!r}")
    if num_aus is not None and num_aus != len(aus):
        raise ValueError(
            "`num_aus` must equal the number of `aus`. "
            f"Received: num_aus={num_aus!r}, aus={aus!r} ({len(aus)} AUs)"
        )
    return aus


def _check_input_size(input_size, region: str, local_first_stride: int) -> int:
    input_size = _check_positive_int(input_size, "input_size")
    # The region grids (8 x 8 on l and on l/2) need l % 16 == 0; plain convolutions only the
    # two pools to l/4.
    multiple = 4 if region == "none" else 16
    if input_size % multiple:
        raise ValueError(
            f"`input_size` must be a multiple of {multiple} with region={region!r} (two 2 x 2 "
            f"pools{'' if region == 'none' else ' and 8 x 8 region grids at l and l/2'}). "
            f"Received: input_size={input_size}"
        )
    map_size = input_size // 4
    # The alignment / global modules pool three times, the local branches after their first
    # (possibly strided) convolution.
    if branch_output_size(map_size, len(_STAGE_UNITS), local_first_stride) < 1:
        smallest = 32 * local_first_stride
        raise ValueError(
            f"`input_size` must be at least {smallest} so that the l/4 maps survive three 2 x 2 "
            f"pools (after a stride-{local_first_stride} convolution in the local branches). "
            f"Received: input_size={input_size}"
        )
    return input_size


@register(tiny_kwargs={"input_size": 48, "num_aus": 3, "c": 2, "d": 16})
def JAANet(
    input_size: int = 176,
    num_aus: int | None = None,
    aus: Sequence[int] | None = None,
    c: int = 8,
    d: int = 512,
    region: str = "hierarchical",
    refinement: bool = True,
    lambda3: float = 2.0,
    attention_distribution: str = "gaussian",
    zeta: float = JAANET_ZETA,
    xi: float = JAANET_XI,
    local_first_stride: int = 1,
    local_implementation: str = "per_au",
    local_reduction: str = "sum",
    centre_rounding: str = "half_pixel",
    attention_target: str = "nearest",
    bn_epsilon: float = 1e-3,
    name: str = "jaanet",
) -> keras.Model:
    """Builds JAA-Net (joint AU detection and face alignment with adaptive attention).

    Inputs: ``{"image": (batch, l, l, 3)}`` float32 (normalised by the pipeline, e.g. to
    [-1, 1]). Outputs (a dict):

    - ``"au"``: ``(batch, A)`` float32 probabilities of occurrence (the "present" entry of
      each AU's 2-way softmax), in the order of ``aus``;
    - ``"landmarks"``: ``(batch, 49, 2)`` float32 predicted ``(x, y)`` in input pixels;
    - ``"attention"``: ``(batch, l/4, l/4, A)`` float32 attention maps that weight the local
      branches: the refined maps, or the initial maps (eq. 3 at ``l/4``) without refinement;
    - with ``refinement=True`` also ``"attention_initial"``: ``(batch, l/4, l/4, A)`` the
      ``l/4 + 8`` initial maps brought to the refined maps' size (``attention_target``),
      the target of the refinement loss (eq. 4,
      ``tfau.losses.attention_refinement_loss(outputs["attention_initial"],
      outputs["attention"])``), constant with respect to the weights.

    The refinement loss must be computed on ``"attention"`` directly: the enhancement
    (``lambda3``) scales only the gradient that reaches the refined maps through the local
    branches, i.e. from the AU loss (eq. 5).

    Ablations of Table 3: ``region="drml"`` (R-Net's region layer) or ``"none"``;
    ``refinement=False`` ("w/o AR": the initial maps weight the branches directly);
    ``lambda3=1.0`` ("w/o BE"); ``attention_distribution="uniform"`` ("w/o GA": weight 1 in
    each AU's windows).

    Args:
        input_size: side ``l`` of the square input. Must be a multiple of 16 (of 4 with
            ``region="none"``) and at least 32 (64 with ``local_first_stride=2``).
            Defaults to 176.
        num_aus: number of AUs ``A``. Defaults to ``len(aus)``; without ``aus``, the first
            ``num_aus`` BP4D AUs.
        aus: the AUs, which place the attention maps (among ``tfau.faces.JAANET_AUS``).
            Defaults to the 12 BP4D AUs ``tfau.aus.BP4D_AUS`` (``tfau.aus.DISFA_AUS``
            for DISFA).
        c: width unit: blocks of 4c, 8c, 12c, 16c, 20c channels, refinement width 8c.
            Defaults to 8.
        d: width of the fully connected layers of the alignment and AU heads. Defaults to 512.
        region: ``"hierarchical"``, ``"drml"`` or ``"none"``. Defaults to ``"hierarchical"``.
        refinement: refine the attention maps (AR). Defaults to True.
        lambda3: back-propagation enhancement of the AU-loss gradient into the refined maps
            (>= 1; 1 disables it). Defaults to 2.0. Ignored without refinement.
        attention_distribution: ``"gaussian"`` (eq. 3 with ``xi``) or ``"uniform"``
            (``xi = 0``). Defaults to ``"gaussian"``.
        zeta: ratio of an AU window's width to the map width (eq. 3). Defaults to 0.14.
        xi: decay coefficient of eq. 3. Defaults to 0.56.
        local_first_stride: stride of the first convolution of each local AU branch.
            Defaults to 1 (the paper); 2 reproduces the authors' released Caffe model.
        local_implementation: ``"per_au"`` or ``"grouped"``, how ``LocalAUBranches`` runs
            the AU branches (same function and weights). Defaults to ``"per_au"``.
        local_reduction: ``"sum"`` (the paper's Fig. 3) or ``"mean"`` (the authors' code)
            over the local AU branches. Defaults to ``"sum"``.
        centre_rounding: how attention centres are placed on the map: ``"half_pixel"`` (the
            map pixel containing the centre) or ``"round"`` (the authors' code, which their
            trained models need); see ``tfau.faces.attention``. Defaults to
            ``"half_pixel"``.
        attention_target: how ``"attention_initial"`` (the refinement target) is brought
            from ``l/4 + 8`` to ``l/4``: ``"nearest"`` (the authors' training code,
            ``F.interpolate``: `tfau.layers.NearestResize`) or ``"crop"`` (the central
            ``l/4``, the refined maps' receptive-field centres). Defaults to ``"nearest"``.
        bn_epsilon: variance epsilon of every BatchNorm. Defaults to ``1e-3`` (Keras); the
            authors' PyTorch and Caffe code use ``1e-5`` (their converted models keep it).
        name: model name. Defaults to ``"jaanet"``.

    Returns:
        A functional ``keras.Model`` named ``name``.

    Raises:
        ValueError: naming the bad argument and the value received.

    Example:

    ```python
    import numpy as np
    import tfau

    model = tfau.models.JAANet(input_size=48, num_aus=3, c=2, d=16)
    outputs = model({"image": np.zeros((2, 48, 48, 3), "float32")})
    print(outputs["au"].shape, outputs["landmarks"].shape, outputs["attention"].shape)
    # (2, 3) (2, 49, 2) (2, 12, 12, 3)
    ```

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, section 3, Fig. 1-3, Table 3.
    """
    if region not in _REGIONS:
        raise ValueError(f"`region` must be one of {_REGIONS}. Received: region={region!r}")
    if attention_distribution not in _DISTRIBUTIONS:
        raise ValueError(
            f"`attention_distribution` must be one of {_DISTRIBUTIONS}. "
            f"Received: attention_distribution={attention_distribution!r}"
        )
    if not isinstance(refinement, bool):
        raise ValueError(f"`refinement` must be a bool. Received: refinement={refinement!r}")
    if isinstance(lambda3, bool) or not isinstance(lambda3, int | float) or not lambda3 >= 1:
        raise ValueError(f"`lambda3` must be a number >= 1. Received: lambda3={lambda3!r}")
    for arg_name, value, allowed in (
        ("local_reduction", local_reduction, _REDUCTIONS),
        ("centre_rounding", centre_rounding, CENTRE_ROUNDINGS),
        ("attention_target", attention_target, _ATTENTION_TARGETS),
    ):
        if value not in allowed:
            raise ValueError(f"`{arg_name}` must be one of {allowed}. Received: {value!r}")
    if isinstance(bn_epsilon, bool) or not isinstance(bn_epsilon, int | float) or bn_epsilon <= 0:
        raise ValueError(f"`bn_epsilon` must be a number > 0. Received: bn_epsilon={bn_epsilon!r}")
    local_first_stride = _check_positive_int(local_first_stride, "local_first_stride")
    input_size = _check_input_size(input_size, region, local_first_stride)
    aus = _resolve_aus(num_aus, aus)
    num_aus = len(aus)
    c = _check_positive_int(c, "c")
    d = _check_positive_int(d, "d")
    stage_filters = tuple(units * c for units in _STAGE_UNITS)
    map_size = input_size // 4
    prefix = name

    image = keras.Input((input_size, input_size, 3), name="image")

    # Hierarchical and multi-scale region learning (Sec. 3.1): "pool2".
    x = apply_region_block(image, 4 * c, region, f"{prefix}_region1", bn_epsilon)
    pool2 = apply_region_block(x, 8 * c, region, f"{prefix}_region2", bn_epsilon)

    # Face alignment (Sec. 3.2).
    align = apply_conv_stages(pool2, stage_filters, f"{prefix}_align", bn_epsilon)
    align = keras.layers.Flatten(name=f"{prefix}_align_flatten")(align)
    landmarks = keras.layers.Dense(d, name=f"{prefix}_align_fc1")(align)
    landmarks = keras.layers.Dense(2 * NUM_LANDMARKS, dtype="float32", name=f"{prefix}_align_fc2")(
        landmarks
    )
    landmarks = keras.layers.Reshape(
        (NUM_LANDMARKS, 2), dtype="float32", name=f"{prefix}_landmarks"
    )(landmarks)

    # Global feature learning: the alignment module's structure (Sec. 3.4).
    global_features = apply_conv_stages(pool2, stage_filters, f"{prefix}_global", bn_epsilon)
    global_features = keras.layers.Flatten(name=f"{prefix}_global_flatten")(global_features)

    # Adaptive attention learning (Sec. 3.3): maps from the predicted landmarks.
    uniform = attention_distribution == "uniform"
    outputs = {}
    if refinement:
        initial = LandmarkAttention(
            "jaanet",
            aus=aus,
            image_size=input_size,
            map_size=map_size + 8,
            zeta=zeta,
            xi=xi,
            uniform=uniform,
            centre_rounding=centre_rounding,
            dtype="float32",
            name=f"{prefix}_attention_initial_padded",
        )(landmarks)
        refined = AttentionRefinement(
            width=8 * c, epsilon=bn_epsilon, name=f"{prefix}_{ATTENTION_REFINEMENT_LAYER}"
        )(initial)
        attention = keras.layers.Activation("linear", dtype="float32", name=f"{prefix}_attention")(
            refined
        )
        if attention_target == "nearest":
            target = NearestResize(map_size, dtype="float32", name=f"{prefix}_attention_initial")
        else:
            target = keras.layers.Cropping2D(4, dtype="float32", name=f"{prefix}_attention_initial")
        outputs["attention_initial"] = target(initial)
        local_maps = refined
        if lambda3 != 1:
            local_maps = GradientScale(lambda3, name=f"{prefix}_attention_enhancement")(refined)
    else:
        attention = LandmarkAttention(
            "jaanet",
            aus=aus,
            image_size=input_size,
            map_size=map_size,
            zeta=zeta,
            xi=xi,
            uniform=uniform,
            centre_rounding=centre_rounding,
            dtype="float32",
            name=f"{prefix}_attention",
        )(landmarks)
        local_maps = attention
    local = LocalAUBranches(
        filters=stage_filters,
        first_stride=local_first_stride,
        implementation=local_implementation,
        reduction=local_reduction,
        epsilon=bn_epsilon,
        name=f"{prefix}_{LOCAL_BRANCHES_LAYER}",
    )([pool2, local_maps])
    local = keras.layers.Flatten(name=f"{prefix}_local_flatten")(local)

    # AU detection (Sec. 3.4).
    features = keras.layers.Concatenate(name=f"{prefix}_au_features")(
        [align, global_features, local]
    )
    au = apply_au_head(features, num_aus, d, name=f"{prefix}_{AU_HEAD}")

    outputs = {"au": au, "landmarks": landmarks, "attention": attention, **outputs}
    return keras.Model({"image": image}, outputs, name=name)
