"""AUNets (Romero, Leon and Arbelaez, 2018) on VGG-16: AUNet, HydraNet, flow fusions, views.

- ``AUNet``: one binary VGG-16 per AU, every layer trainable (paper section 3.2.2), optionally
  fused with optical flow (section 3.3, Fig. 4): ``"alone"``, ``"channels"`` (6-channel input,
  conv1 repeats the RGB filters), ``"horizontal"`` (RGB and flow side by side, 224 x 448, so fc6
  sees a 7 x 14 map), and two streams fused after conv5 / fc6 / fc7 (``"pi_conv"``,
  ``"pi_fc6"``, ``"pi_fc7"``).
- ``HydraNet``: one frozen VGG-16 encoder shared by one trainable fc6-fc7-output head per AU
  (section 3.2.1); ``add_hydranet_head`` grows a head without touching the others.
- ``AUNetsViewClassifier`` and ``MultiViewEnsemble``: the FERA 2017 multi-view system
  (section 3.4, 4.2): a 9-way view classifier and the routing of a video to the AU models
  trained for its predicted view.

Table 3 of the paper counts parameters per AU model; tests/models/test_aunets.py checks them.

Reference:
    Romero, Leon and Arbelaez, "Multi-View Dynamic Facial Action Unit Detection",
    Image and Vision Computing 2018 (arXiv:1704.07863).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tfau.models.registry import register
from tfau.models.vgg import (
    apply_vgg_encoder,
    apply_vgg_fc,
    assign_vgg_weights,
    check_input_size,
    check_weights_argument,
    read_vgg_weights,
    vgg_weights_from_model,
)

FUSIONS: tuple[str | None, ...] = (
    None,
    "alone",
    "channels",
    "horizontal",
    "pi_conv",
    "pi_fc6",
    "pi_fc7",
)
"""AUNet's ways of using optical flow (paper section 3.3); None is RGB only."""

_MODEL_NAMES = {
    None: "aunet",
    "alone": "aunet_flow",
    "channels": "aunet_channels",
    "horizontal": "aunet_horizontal",
    "pi_conv": "aunet_pi_conv",
    "pi_fc6": "aunet_pi_fc6",
    "pi_fc7": "aunet_pi_fc7",
}
_TWO_STREAM_STAGES = {"pi_conv": 0, "pi_fc6": 1, "pi_fc7": 2}
_TINY = {"input_size": 32, "width": 1 / 16, "fc_units": 32}


def _check_common(num_aus: int, fc_units: int, dropout: float) -> None:
    if isinstance(num_aus, bool) or not isinstance(num_aus, int) or num_aus < 1:
        raise ValueError(f"`num_aus` must be a positive integer. Received: num_aus={num_aus!r}")
    if isinstance(fc_units, bool) or not isinstance(fc_units, int) or fc_units < 1:
        raise ValueError(f"`fc_units` must be a positive integer. Received: fc_units={fc_units!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")


def _apply_au_head(x: Any, num_aus: int, *, name: str) -> Any:
    """Output layer: one logit per AU, sigmoid in float32 (also under mixed precision).

    The paper writes a 2-way softmax per AU; softmax over (a, b) is sigmoid(b - a), and the
    authors' code trains one logit with BCE-with-logits, which is what this is.
    """
    logits = keras.layers.Dense(num_aus, name=f"{name}_logits")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=name)(logits)


def _apply_stream(
    x: Any,
    *,
    prefix: str,
    width: float,
    fc_units: int,
    dropout: float,
    stage: int,
    trainable: bool,
) -> Any:
    """One VGG-16 stream: its conv5 map (stage 0), or its fc6 (1) or fc7 (2) features."""
    x = apply_vgg_encoder(
        x, depth=16, width=width, prefix=prefix, frozen_groups=0 if trainable else 5
    )
    if stage == 0:
        return x
    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    for index in range(6, 6 + stage):
        x = apply_vgg_fc(
            x, fc_units, name=f"{prefix}_fc{index}", dropout=dropout, trainable=trainable
        )
    return x


def AUNet(
    input_size: int = 224,
    num_aus: int = 1,
    *,
    fusion: str | None = None,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    freeze_rgb_stream: bool = True,
    weights: str | os.PathLike | None = None,
    rgb_model: keras.Model | None = None,
) -> keras.Model:
    """Builds an AUNet: a binary VGG-16 detector for one AU, optionally fused with optical flow.

    The paper trains one AUNet per AU (``num_aus=1``); larger ``num_aus`` gives the same
    network with a multi-label output. Fusions (paper section 3.3, Fig. 4, Table 2):

    - ``None``: RGB only. Input ``"image"``.
    - ``"alone"``: the flow image only. Input ``"flow"``.
    - ``"channels"``: image and flow stacked into 6 channels; conv1's flow filters start as
      copies of its RGB filters.
    - ``"horizontal"``: image and flow side by side (``input_size`` x ``2 * input_size``); fc6
      sees a 7 x 14 map (Table 3: 237m parameters).
    - ``"pi_conv"``, ``"pi_fc6"``, ``"pi_fc7"``: two VGG-16 streams (RGB and flow) whose conv5
      maps (concatenated over channels), fc6 or fc7 features are concatenated and go through the
      rest of the network. With ``freeze_rgb_stream`` (default) the RGB stream is frozen, which
      gives Table 3's learnable counts (237m, 151m, 134m): the flow stream learns to complement
      a trained RGB AUNet (pass it as ``rgb_model``).

    Flow inputs are 3-channel flow images (x and y normalised, magnitude third), the same size
    as the image.

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of outputs. Defaults to 1 (one network per AU, as in the paper).
        fusion: one of ``FUSIONS``. Defaults to None (RGB only).
        width: VGG channel multiplier (1/16 for tests). Defaults to 1.0.
        fc_units: units of fc6 and fc7. Defaults to 4096.
        dropout: dropout after fc6 and fc7. Defaults to 0.5.
        freeze_rgb_stream: two-stream fusions only: freeze the RGB stream. Defaults to True.
        weights: None (random) or the path of a local VGG-16 weights file (ImageNet or an
            EmoNet encoder, see ``tfau.models.vgg.read_vgg_weights``); loaded into every stream,
            replicated where a fusion has more inputs. Never downloaded.
        rgb_model: a trained RGB ``AUNet`` whose VGG weights initialise every stream (the
            paper copies the RGB encoder into the motion encoder). Overrides ``weights``.

    Returns:
        A ``keras.Model`` named after the fusion (``"aunet"``, ``"aunet_horizontal"`` ...) with
        output ``{"au": (batch, num_aus)}`` probabilities.

    Example:
        >>> model = AUNet(input_size=32, width=1 / 16, fc_units=32, fusion="horizontal")
        >>> out = model({"image": np.zeros((2, 32, 32, 3)), "flow": np.zeros((2, 32, 32, 3))})
        >>> out["au"].shape
        TensorShape([2, 1])

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", section 3, Fig. 4.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"`fusion` must be one of {FUSIONS}. Received: fusion={fusion!r}")
    height, width_px = check_input_size(input_size)
    _check_common(num_aus, fc_units, dropout)
    check_weights_argument(weights)
    name = _MODEL_NAMES[fusion]
    image = keras.Input((height, width_px, 3), name="image")
    flow = keras.Input((height, width_px, 3), name="flow")

    if fusion in _TWO_STREAM_STAGES:
        stage = _TWO_STREAM_STAGES[fusion]
        inputs = {"image": image, "flow": flow}
        streams = [
            _apply_stream(
                tensor,
                prefix=f"{name}_{stream}",
                width=width,
                fc_units=fc_units,
                dropout=dropout,
                stage=stage,
                trainable=not (stream == "rgb" and freeze_rgb_stream),
            )
            for stream, tensor in (("rgb", image), ("flow", flow))
        ]
        x = keras.layers.Concatenate(name=f"{name}_fusion")(streams)
        if stage == 0:
            # pi/conv: the conv5 maps were concatenated over channels (7 x 7 x 1024).
            x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    else:
        if fusion == "alone":
            inputs = {"flow": flow}
            x = flow
        elif fusion is None:
            inputs = {"image": image}
            x = image
        else:
            inputs = {"image": image, "flow": flow}
            axis = -1 if fusion == "channels" else 2
            x = keras.layers.Concatenate(axis=axis, name=f"{name}_input_fusion")([image, flow])
        x = apply_vgg_encoder(x, depth=16, width=width, prefix=name)
        x = keras.layers.Flatten(name=f"{name}_flatten")(x)
        stage = 0
    for index in range(6 + stage, 8):
        x = apply_vgg_fc(x, fc_units, name=f"{name}_fc{index}", dropout=dropout)
    outputs = {"au": _apply_au_head(x, num_aus, name=f"{name}_au")}
    model = keras.Model(inputs, outputs, name=name)
    _initialise(model, fusion, weights=weights, rgb_model=rgb_model)
    return model


def _stream_prefixes(model: keras.Model, fusion: str | None) -> tuple[str, ...]:
    if fusion in _TWO_STREAM_STAGES:
        return (f"{model.name}_rgb", f"{model.name}_flow", model.name)
    return (model.name,)


def _initialise(
    model: keras.Model,
    fusion: str | None,
    *,
    weights: str | os.PathLike | None,
    rgb_model: keras.Model | None,
) -> None:
    """Initialises the VGG streams the way the paper does for each fusion."""
    prefixes = _stream_prefixes(model, fusion)
    if rgb_model is not None:
        if rgb_model.name != "aunet":
            raise ValueError(
                f"`rgb_model` must be an RGB AUNet (a model named 'aunet'). "
                f"Received a model named {rgb_model.name!r}."
            )
        assign_vgg_weights(
            model, vgg_weights_from_model(rgb_model, "aunet"), prefixes=prefixes, source="rgb_model"
        )
    elif weights is not None:
        source = repr(os.fspath(weights))
        assign_vgg_weights(model, read_vgg_weights(weights), prefixes=prefixes, source=source)
    elif fusion == "channels":
        # Random start, but still as the paper: the flow filters of conv1 copy the RGB ones.
        conv1 = model.get_layer(f"{model.name}_block1_conv1")
        kernel, bias = conv1.get_weights()
        conv1.set_weights([np.concatenate([kernel[:, :, :3]] * 2, axis=2), bias])
    elif fusion in _TWO_STREAM_STAGES:
        # Random start, but still as the paper: the motion stream starts as a copy of RGB.
        rgb = vgg_weights_from_model(model, prefixes[0])
        assign_vgg_weights(model, rgb, prefixes=prefixes[1:2], source="the RGB stream")


register(tiny_kwargs=_TINY)(AUNet)


def _fusion_builder(fusion: str, doc: str) -> Any:
    def builder(input_size: int = 224, num_aus: int = 1, **kwargs: Any) -> keras.Model:
        if "fusion" in kwargs:
            raise ValueError(
                f"{builder.__name__} always uses fusion={fusion!r}; call AUNet(fusion=...) for "
                f"another one. Received: fusion={kwargs['fusion']!r}"
            )
        return AUNet(input_size, num_aus, fusion=fusion, **kwargs)

    builder.__doc__ = (
        f"{doc}\n\n    Same as ``AUNet(input_size, num_aus, fusion={fusion!r}, **kwargs)``; "
        f"see ``AUNet`` for the arguments.\n\n    Reference:\n        Romero et al., "
        f'"Multi-View Dynamic Facial Action Unit Detection", section 3.3.\n'
    )
    return builder


def _named(builder: Any, name: str) -> Any:
    builder.__name__ = builder.__qualname__ = name
    return register(tiny_kwargs=_TINY)(builder)


AUNetFlow = _named(_fusion_builder("alone", "AUNet on the optical-flow image alone."), "AUNetFlow")
AUNetChannels = _named(
    _fusion_builder("channels", "AUNet on RGB + flow stacked as 6 input channels."),
    "AUNetChannels",
)
AUNetHorizontal = _named(
    _fusion_builder("horizontal", "AUNet on RGB and flow side by side (224 x 448)."),
    "AUNetHorizontal",
)
AUNetPiConv = _named(
    _fusion_builder("pi_conv", "Two-stream AUNet fused after conv5 (pi/conv)."), "AUNetPiConv"
)
AUNetPiFC6 = _named(
    _fusion_builder("pi_fc6", "Two-stream AUNet fused after fc6 (pi/fc6)."), "AUNetPiFC6"
)
AUNetPiFC7 = _named(
    _fusion_builder("pi_fc7", "Two-stream AUNet fused after fc7 (pi/fc7)."), "AUNetPiFC7"
)

_HEAD_OUTPUT = re.compile(r"^hydranet_au(.+)_prob$")


def _check_au_label(au: Any) -> str:
    label = str(au)
    if not re.fullmatch(r"[A-Za-z0-9]+", label):
        raise ValueError(f"An AU label must be letters and digits only. Received: {au!r}")
    return label


def _apply_hydranet_head(features: Any, au: str, *, fc_units: int, dropout: float) -> Any:
    """One HydraNet head: fc6 -> fc7 -> 1 sigmoid output, layers named ``hydranet_au{au}_*``."""
    x = features
    for index in (6, 7):
        x = apply_vgg_fc(x, fc_units, name=f"hydranet_au{au}_fc{index}", dropout=dropout)
    logits = keras.layers.Dense(1, name=f"hydranet_au{au}_logits")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=f"hydranet_au{au}_prob")(logits)


def _hydranet_model(image: Any, heads: list[Any]) -> keras.Model:
    au = keras.layers.Concatenate(dtype="float32", name="hydranet_au")(heads)
    return keras.Model({"image": image}, {"au": au}, name="hydranet")


@register(tiny_kwargs={**_TINY, "num_aus": 3})
def HydraNet(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    aus: Sequence[int | str] | None = None,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds a HydraNet: one frozen VGG-16 encoder shared by one trainable head per AU.

    The convolutional encoder (ImageNet or EmoNet weights) is frozen; each AU has its own
    fc6 -> fc7 -> binary output head (paper section 3.2.1). Table 3 counts one head: 134m
    parameters of which 119m learnable. New AUs are new heads: ``add_hydranet_head``.

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of heads. Defaults to 12.
        aus: AU labels naming the heads (``hydranet_au12_fc6``); defaults to 0 .. num_aus-1.
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of every head's fc6 and fc7. Defaults to 4096.
        dropout: dropout after fc6 and fc7. Defaults to 0.5.
        weights: None or a local VGG-16 weights file for the encoder and every head's fc6/fc7.

    Returns:
        A ``keras.Model`` named ``"hydranet"``, input ``"image"``, output
        ``{"au": (batch, num_aus)}`` in the order of ``aus``.

    Example:
        >>> model = HydraNet(input_size=32, num_aus=2, aus=(1, 2), width=1 / 16, fc_units=32)
        >>> model = add_hydranet_head(model, 4)
        >>> model.output_shape["au"]
        (None, 3)

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", section 3.2.1.
    """
    height, width_px = check_input_size(input_size)
    _check_common(num_aus, fc_units, dropout)
    check_weights_argument(weights)
    labels = [_check_au_label(au) for au in (range(num_aus) if aus is None else aus)]
    if len(labels) != num_aus or len(set(labels)) != num_aus:
        raise ValueError(
            f"`aus` must hold num_aus={num_aus} distinct labels. Received: aus={aus!r}"
        )
    image = keras.Input((height, width_px, 3), name="image")
    x = apply_vgg_encoder(image, depth=16, width=width, prefix="hydranet", frozen_groups=5)
    features = keras.layers.Flatten(name="hydranet_flatten")(x)
    heads = [
        _apply_hydranet_head(features, au, fc_units=fc_units, dropout=dropout) for au in labels
    ]
    model = _hydranet_model(image, heads)
    if weights is not None:
        prefixes = ("hydranet", *(f"hydranet_au{au}" for au in labels))
        assign_vgg_weights(
            model, read_vgg_weights(weights), prefixes=prefixes, source=repr(os.fspath(weights))
        )
    return model


def hydranet_aus(model: keras.Model) -> list[str]:
    """Returns the AU labels of a HydraNet's heads, in output order."""
    return [m.group(1) for layer in model.layers if (m := _HEAD_OUTPUT.match(layer.name))]


def add_hydranet_head(
    model: keras.Model, au: int | str, *, weights: str | os.PathLike | None = None
) -> keras.Model:
    """Grows a HydraNet head for a new AU; the encoder and the other heads are shared, untouched.

    The returned model reuses the layers (and so the weights) of ``model`` and appends the new
    AU's probability as the last output column. Train it with the encoder and old heads frozen
    (they stay frozen: only the new head's layers are trainable unless you change that).

    Args:
        model: a ``HydraNet`` (or a model returned by this function).
        au: label of the new AU (letters and digits).
        weights: None (random head) or a local VGG-16 file whose fc6/fc7 start the new head.

    Returns:
        A new ``keras.Model`` named ``"hydranet"`` with one more output column.

    Raises:
        ValueError: if ``model`` is not a HydraNet or already has a head for ``au``.

    Example:
        >>> model = add_hydranet_head(HydraNet(num_aus=12, aus=BP4D_AUS), 9)

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", section 3.2.1.
    """
    labels = hydranet_aus(model)
    if model.name != "hydranet" or not labels:
        raise ValueError(f"`model` must be a HydraNet. Received a model named {model.name!r}.")
    label = _check_au_label(au)
    if label in labels:
        raise ValueError(f"The HydraNet already has a head for AU {label}; heads: {labels}.")
    first_fc = model.get_layer(f"hydranet_au{labels[0]}_fc6")
    dropout_name = f"hydranet_au{labels[0]}_fc6_dropout"
    layer_names = {layer.name for layer in model.layers}
    dropout = model.get_layer(dropout_name).rate if dropout_name in layer_names else 0.0
    features = model.get_layer("hydranet_flatten").output
    heads = [model.get_layer(f"hydranet_au{old}_prob").output for old in labels]
    heads.append(_apply_hydranet_head(features, label, fc_units=first_fc.units, dropout=dropout))
    grown = _hydranet_model(model.get_layer("image").output, heads)
    if weights is not None:
        check_weights_argument(weights)
        assign_vgg_weights(
            grown,
            read_vgg_weights(weights),
            prefixes=(f"hydranet_au{label}",),
            source=repr(os.fspath(weights)),
        )
    return grown


@register(tiny_kwargs={**_TINY, "num_views": 3})
def AUNetsViewClassifier(
    input_size: int = 224,
    num_views: int = 9,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    frozen_groups: int = 0,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds the multi-view system's view classifier: VGG-16 -> ``num_views``-way softmax.

    FERA 2017 renders each video from one of 9 views; AUNets first predicts the view, then runs
    the AU models trained for it (``MultiViewEnsemble``). The paper fine-tunes a GoogLeNet
    (ImageNet weights, first 6 inception modules frozen); tfau uses the same VGG-16 as the AU
    models so that one weights file serves both (``frozen_groups`` freezes low groups).

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_views: number of views. Defaults to 9 (FERA 2017).
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of fc6 and fc7. Defaults to 4096.
        dropout: dropout after fc6 and fc7. Defaults to 0.5.
        frozen_groups: number of low VGG groups kept frozen. Defaults to 0.
        weights: None or a local VGG-16 weights file.

    Returns:
        A ``keras.Model`` named ``"aunets_view"``, input ``"image"``, output
        ``{"view": (batch, num_views)}`` probabilities (float32).

    Example:
        >>> model = AUNetsViewClassifier(input_size=32, width=1 / 16, fc_units=32)
        >>> model.output_shape["view"]
        (None, 9)

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", section 4.2.2.
    """
    height, width_px = check_input_size(input_size)
    if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 2:
        raise ValueError(
            f"`num_views` must be an integer of at least 2. Received: num_views={num_views!r}"
        )
    _check_common(1, fc_units, dropout)
    check_weights_argument(weights)
    name = "aunets_view"
    image = keras.Input((height, width_px, 3), name="image")
    x = apply_vgg_encoder(image, depth=16, width=width, prefix=name, frozen_groups=frozen_groups)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    for index in (6, 7):
        x = apply_vgg_fc(x, fc_units, name=f"{name}_fc{index}", dropout=dropout)
    logits = keras.layers.Dense(num_views, name=f"{name}_logits")(x)
    view = keras.layers.Activation("softmax", dtype="float32", name=f"{name}_probs")(logits)
    model = keras.Model({"image": image}, {"view": view}, name=name)
    if weights is not None:
        assign_vgg_weights(
            model, read_vgg_weights(weights), prefixes=(name,), source=repr(os.fspath(weights))
        )
    return model


class MultiViewEnsemble:
    """Routes a video to the AU models of its predicted view (AUNets' FERA 2017 system).

    The view classifier scores every frame; the video's view is the arg max of the per-frame
    view probabilities aggregated over the video (``"mean"``, or ``"max"`` as the paper's
    ``max_v(p)``). The models trained for that view then predict every frame, and their AU
    columns are concatenated in the order given (one binary AUNet per AU in the paper).

    Args:
        view_classifier: a model with output ``"view"`` (``AUNetsViewClassifier``).
        view_models: ``{view index: model or list of models}``, views 0-based (the paper's
            V1 is 0); each model has output ``"au"``.
        aggregate: ``"mean"`` or ``"max"`` over frames. Defaults to ``"mean"``.
        batch_size: frames per forward pass. Defaults to 32.

    Example:
        >>> ensemble = MultiViewEnsemble(view_net, {0: [au1_v1, au2_v1], 1: [au1_v2, au2_v2]})
        >>> result = ensemble.predict({"image": frames, "flow": flows})
        >>> result["view"], result["au"].shape
        (1, (500, 2))

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", sections 3.4, 4.2.
    """

    def __init__(
        self,
        view_classifier: keras.Model,
        view_models: Mapping[int, keras.Model | Sequence[keras.Model]],
        *,
        aggregate: str = "mean",
        batch_size: int = 32,
    ) -> None:
        if aggregate not in ("mean", "max"):
            raise ValueError(f"`aggregate` must be 'mean' or 'max'. Received: {aggregate!r}")
        if "view" not in view_classifier.output:
            raise ValueError(
                f"`view_classifier` must have an output named 'view'. Received outputs: "
                f"{sorted(view_classifier.output)}."
            )
        self.view_classifier = view_classifier
        self.num_views = int(view_classifier.output["view"].shape[-1])
        self.view_models: dict[int, list[keras.Model]] = {}
        for view, models in view_models.items():
            if not isinstance(view, int | np.integer) or not 0 <= view < self.num_views:
                raise ValueError(
                    f"View keys must be integers in [0, {self.num_views}). Received: {view!r}"
                )
            models = [models] if isinstance(models, keras.Model) else list(models)
            if not models:
                raise ValueError(f"No model given for view {view}.")
            for model in models:
                if "au" not in model.output:
                    raise ValueError(f"Model {model.name!r} for view {view} has no 'au' output.")
            self.view_models[int(view)] = models
        self.aggregate = aggregate
        self.batch_size = batch_size

    @staticmethod
    def _as_inputs(video: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = {"image": video} if not isinstance(video, Mapping) else dict(video)
        if "image" not in inputs:
            raise ValueError(f"The video needs an 'image' array. Received keys: {sorted(inputs)}")
        lengths = {k: len(v) for k, v in inputs.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"All inputs need one entry per frame. Received lengths: {lengths}")
        return {k: np.asarray(v, dtype="float32") for k, v in inputs.items()}

    def _run(self, model: keras.Model, inputs: dict[str, np.ndarray], output: str) -> np.ndarray:
        """Runs ``model`` in inference mode over the frames, ``batch_size`` at a time.

        Plain calls rather than ``Model.predict``: no per-model tracing, which dominates for the
        short clips and many small models of an ensemble.
        """
        num_frames = len(next(iter(inputs.values())))
        chunks = [
            np.asarray(
                model(
                    {k: v[start : start + self.batch_size] for k, v in inputs.items()},
                    training=False,
                )[output]
            )
            for start in range(0, num_frames, self.batch_size)
        ]
        return np.concatenate(chunks, axis=0)

    def predict_view(self, video: np.ndarray | Mapping[str, np.ndarray]) -> tuple[int, np.ndarray]:
        """Returns the video's view and its aggregated view probabilities ``(num_views,)``.

        Args:
            video: frames ``(num_frames, h, w, 3)`` or a dict with an ``"image"`` entry.
        """
        inputs = self._as_inputs(video)
        frames = self._run(self.view_classifier, {"image": inputs["image"]}, "view")
        scores = frames.mean(axis=0) if self.aggregate == "mean" else frames.max(axis=0)
        return int(np.argmax(scores)), scores

    def predict(self, video: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Predicts the view of a video, then every frame's AUs with that view's models.

        Args:
            video: frames ``(num_frames, h, w, 3)``, or ``{"image": ..., "flow": ...}`` when the
                AU models use optical flow (each model receives the inputs it names).

        Returns:
            ``{"view": int, "view_probabilities": (num_views,), "au": (num_frames, num_aus)}``
            where the AU columns are the view's models' outputs concatenated in order.

        Raises:
            KeyError: if no model was given for the predicted view.
        """
        inputs = self._as_inputs(video)
        view, scores = self.predict_view(inputs)
        if view not in self.view_models:
            raise KeyError(
                f"The video's predicted view is {view} but models were given only for views "
                f"{sorted(self.view_models)}."
            )
        columns = []
        for model in self.view_models[view]:
            names = [tensor.name for tensor in model.inputs]
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(
                    f"Model {model.name!r} needs inputs {names}; the video lacks {missing}."
                )
            model_inputs = {n: inputs[n] for n in names}
            columns.append(self._run(model, model_inputs, "au"))
        return {"view": view, "view_probabilities": scores, "au": np.concatenate(columns, axis=1)}
