"""JAA-Net's recipe: its three stages and the BP4D -> DISFA start by AU identity.

- `JAANET_STAGES` (Sec. 4.1): all modules for 8 epochs with lambda1 = 0.5; then the face
  alignment module alone with lambda1 = 1; then the global and adaptive attention
  (refinement + local branches) modules and the AU head, 2 epochs each at lr 1e-3.
- DISFA starts from the BP4D model: `transfer_au_branches` copies every shared weight and the
  per-AU weights of the AUs both datasets have; the ``"jaanet_au_branches"`` hand-over does it
  from a saved model in a config's first stage (experiment ``jaanet_disfa_transfer``).

Example:
    >>> config = get_experiment("jaanet_disfa_transfer").train_config()  # doctest: +SKIP
    >>> run_training(config, run_dir="runs/jaanet_disfa")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tfau.layers import LandmarkAttention
from tfau.models.jaanet import (
    ATTENTION_REFINEMENT_LAYER,
    AU_CLASSIFIER_LAYER,
    LOCAL_BRANCHES_LAYER,
)
from tfau.training.config import Stage
from tfau.training.run import HandoverContext, register_handover

#: JAA-Net's three stages (Sec. 4.1). The first stage's learning rate is the config's (0.01
#: BP4D, 0.001 DISFA); the AU head (``au_fc1``, ``au_fc2``) is trained with the AU modules in
#: the third stage and frozen with them in the second (the paper lists the four modules only).
JAANET_STAGES: tuple[Stage, ...] = (
    Stage("all_modules", epochs=8, loss_weights={"landmarks": 0.5}),
    Stage(
        "face_alignment",
        epochs=2,
        trainable=("align",),
        learning_rate=1e-3,
        loss_weights={"landmarks": 1.0},
    ),
    Stage(
        "au_modules",
        epochs=2,
        trainable=("global", "attention_refinement", "local", "au"),
        learning_rate=1e-3,
        loss_weights={"landmarks": 1.0},
    ),
)

#: JAA-Net layers holding per-AU weights (module -> layout of the last axis): ``"au_major"``:
#: index ``au * k + j`` (grouped branches), ``"class_major"``: ``j * A + au`` (the head's
#: ``A`` absent logits, then the ``A`` present logits).
JAANET_PER_AU_LAYERS: dict[str, str] = {
    ATTENTION_REFINEMENT_LAYER: "au_major",
    LOCAL_BRANCHES_LAYER: "au_major",
    AU_CLASSIFIER_LAYER: "class_major",
}


def model_aus(model: keras.Model) -> tuple[int, ...] | None:
    """The AUs of a model's `tfau.layers.LandmarkAttention` layer (JAA-Net, E-Net), or None.

    Example:
        >>> model_aus(tfau.models.JAANet(aus=(1, 2, 4)))  # doctest: +SKIP
        (1, 2, 4)
    """
    for layer in model.layers:
        if isinstance(layer, LandmarkAttention) and layer.aus is not None:
            return tuple(int(a) for a in layer.aus)
    return None


def _check_aus(model: keras.Model, aus: Sequence[int] | None, argument: str) -> tuple[int, ...]:
    found = model_aus(model)
    if aus is None:
        if found is None:
            raise ValueError(
                f"Model {model.name!r} has no LandmarkAttention layer naming its AUs: pass "
                f"`{argument}`."
            )
        return found
    aus = tuple(int(a) for a in aus)
    if found is not None and found != aus:
        raise ValueError(
            f"`{argument}` must be the AUs model {model.name!r} was built for. "
            f"Received: {argument}={aus}, the model's AUs: {found}"
        )
    if len(set(aus)) != len(aus):
        raise ValueError(f"`{argument}` must not repeat an AU. Received: {argument}={aus}")
    return aus


def _au_columns(size: int, num_aus: int, index: int, layout: str, where: str) -> np.ndarray:
    if size % num_aus:
        raise ValueError(f"{where}: last axis {size} is not a multiple of {num_aus} AUs.")
    per_au = size // num_aus
    if layout == "au_major":
        return np.arange(index * per_au, (index + 1) * per_au)
    return np.arange(per_au) * num_aus + index


def transfer_au_branches(
    source: keras.Model,
    target: keras.Model,
    source_aus: Sequence[int] | None = None,
    target_aus: Sequence[int] | None = None,
    per_au_layers: Mapping[str, str] | None = None,
) -> dict[str, list[Any]]:
    """Copies a trained JAA-Net into one for other AUs: shared weights, and AUs by identity.

    Every layer without per-AU weights (region learning, alignment, global module, the first
    fc of the AU head) is copied whole. In the per-AU layers (`JAANET_PER_AU_LAYERS`: the
    attention refinement CNNs, the local branches, the head's last fc) the weights of each
    AU of ``target_aus`` that is also in ``source_aus`` are copied from that AU's slice of the
    source; AUs new to the target keep their initial weights. Layers are matched by name
    without the model-name prefix.

    Args:
        source: the trained model (e.g. BP4D, 12 AUs).
        target: the model to initialise (e.g. DISFA, 8 AUs), same widths.
        source_aus: the source's AUs; None: read from its attention layer.
        target_aus: the target's AUs; None: read from its attention layer.
        per_au_layers: module -> layout of the per-AU layers; None: `JAANET_PER_AU_LAYERS`.

    Returns:
        ``{"shared_layers", "per_au_layers", "copied_aus", "new_aus"}``.

    Raises:
        ValueError: a layer is missing from the source or its shapes differ beyond the AUs.

    Example:
        >>> bp4d = JAANet(aus=BP4D_AUS)  # doctest: +SKIP
        >>> disfa = JAANet(aus=DISFA_AUS)  # doctest: +SKIP
        >>> transfer_au_branches(bp4d, disfa)["copied_aus"]  # doctest: +SKIP
        [1, 2, 4, 6, 12]
        >>> # then fine-tune on DISFA (first stage at lr 0.001 in the paper):
        >>> run_stages(disfa_config, JAANET_STAGES, model=disfa)  # doctest: +SKIP

    Reference:
        Shao et al., "Deep Adaptive Attention ...", ECCV 2018, Sec. 4.1 ("initialized with
        the well-trained model from BP4D, and further fine-tuned to 8 AUs").
    """
    source_aus = _check_aus(source, source_aus, "source_aus")
    target_aus = _check_aus(target, target_aus, "target_aus")
    per_au_layers = dict(JAANET_PER_AU_LAYERS if per_au_layers is None else per_au_layers)
    source_layers = {layer.name.removeprefix(f"{source.name}_"): layer for layer in source.layers}
    shared, per_au, assignments = [], [], []
    for layer in target.layers:
        if not layer.weights:
            continue
        name = layer.name.removeprefix(f"{target.name}_")
        origin = source_layers.get(name)
        if origin is None or len(origin.weights) != len(layer.weights):
            raise ValueError(
                f"Layer {layer.name!r} of the target has no counterpart with the same weights "
                f"in the source model {source.name!r}."
            )
        layout = per_au_layers.get(name)
        values = []
        for variable, source_variable in zip(layer.weights, origin.weights, strict=True):
            value = np.array(variable.numpy())
            source_value = np.asarray(source_variable.numpy())
            where = f"{layer.name}/{variable.name}"
            if layout is None:
                if value.shape != source_value.shape:
                    raise ValueError(
                        f"{where}: shape {value.shape} in the target, {source_value.shape} in "
                        "the source; build both models with the same widths."
                    )
                values.append(source_value)
                continue
            if value.shape[:-1] != source_value.shape[:-1] or (
                value.shape[-1] // len(target_aus) != source_value.shape[-1] // len(source_aus)
            ):
                raise ValueError(
                    f"{where}: shape {value.shape} for {len(target_aus)} AUs in the target, "
                    f"{source_value.shape} for {len(source_aus)} AUs in the source."
                )
            for index, au in enumerate(target_aus):
                if au in source_aus:
                    columns = _au_columns(value.shape[-1], len(target_aus), index, layout, where)
                    source_columns = _au_columns(
                        source_value.shape[-1],
                        len(source_aus),
                        source_aus.index(au),
                        layout,
                        where,
                    )
                    value[..., columns] = source_value[..., source_columns]
            values.append(value)
        assignments.append((layer, values))
        (shared if layout is None else per_au).append(layer.name)
    # Every shape is checked before any weight changes: an error leaves the target untouched.
    for layer, values in assignments:
        layer.set_weights(values)
    return {
        "shared_layers": shared,
        "per_au_layers": per_au,
        "copied_aus": [au for au in target_aus if au in source_aus],
        "new_aus": [au for au in target_aus if au not in source_aus],
    }


@register_handover("jaanet_au_branches")
def start_from_other_aus(context: HandoverContext, source: str) -> keras.Model:
    """Hand-over ``"jaanet_au_branches"``: the stage's JAA-Net started from the JAA-Net saved
    at ``source`` (``.keras``, e.g. the BP4D run's ``model.keras``) by `transfer_au_branches`.

    Raises:
        FileNotFoundError: no file at ``source``.
    """
    from tfau.model_files import load_keras_model

    if not os.path.exists(source):
        raise FileNotFoundError(
            f"Stage {context.stage.name!r} starts from the JAA-Net saved at {source!r}, which "
            "does not exist: train that run first (e.g. `tfau train --config jaanet_bp4d "
            "--run_dir runs/jaanet_bp4d` writes runs/jaanet_bp4d/model.keras) or set the "
            "stage's init source."
        )
    model = context.build()
    transfer_au_branches(load_keras_model(source), model)
    return model
