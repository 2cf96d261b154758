"""The papers' staged training: which modules train when, and weights carried between stages.

- JAA-Net (Sec. 4.1): ``JAANET_STAGES`` run by `run_stages`: all modules for 8 epochs with
  lambda1 = 0.5; then the face alignment module alone with lambda1 = 1; then the global and
  adaptive attention (refinement + local branches) modules and the AU head, 2 epochs each at
  lr 1e-3. DISFA starts from the BP4D model: `transfer_au_branches` copies every shared weight
  and the per-AU weights of the AUs both datasets have.
- EAC-Net (Sec. IV): `train_eacnet_staged` trains FVGG, then E-Net from the trained FVGG,
  then EAC-Net on the trained E-Net. DISFA protocol: the fc 2048 features of the BP4D network
  (`extract_features`) and a per-AU linear regression fit on the DISFA training folds
  (`fit_linear_au_regression`, `linear_transfer_fold`).
- AUNets (Sec. 3.2, 4.1.3): `train_hydranet_heads` grows and trains one HydraNet head at a
  time on the frozen encoder; `pretrain_vgg_classifier` + `transfer_vgg_encoder` are the
  domain adaptation (EmoNet: a VGG-16 classifier trained on another labelled face task whose
  encoder then starts the AU networks), `train_aunets_domain_adapted` runs both.

Every stage is an ordinary `Trainer` run in its own folder ``run_dir/<index>_<stage>``, so a
killed staged run resumes where it stopped: finished stages restore their last checkpoint
and return at once. A `TrainConfig` with ``stages`` (a list of `Stage` or of their dicts in
JSON) runs them from the command line: ``tfau train`` and ``tfau cv`` call `run_training`,
which runs `run_stages` when the config has stages.

Example:
    >>> from tfau.training import JAANET_STAGES, get_config, run_stages
    >>> model, results = run_stages(config, JAANET_STAGES, run_dir="runs/jaanet")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfau.training.config import Stage, TrainConfig
from tfau.training.progress import progress_label
from tfau.training.run_data import RunData
from tfau.training.strategy import is_chief, make_strategy
from tfau.training.trainer import Trainer

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


def module_layers(model: keras.Model, module: str) -> list[keras.layers.Layer]:
    """The layers of ``model`` in ``module`` (see `Stage`), in model order.

    Example:
        >>> [layer.name for layer in module_layers(jaanet, "au")][-1]  # doctest: +SKIP
        'jaanet_au_probability'
    """
    prefix = f"{model.name}_"
    layers = []
    for layer in model.layers:
        name = layer.name.removeprefix(prefix)
        if name == module or name.startswith(f"{module}_"):
            layers.append(layer)
    return layers


def set_trainable(
    model: keras.Model,
    modules: Sequence[str] | None,
    base: Mapping[str, bool] | None = None,
) -> list[str]:
    """Freezes every layer outside ``modules``; layers inside keep their ``base`` flag.

    Args:
        model: a functional model with prefixed layer names.
        modules: module names (see `Stage`); None: every layer gets its ``base`` flag.
        base: layer name -> trainable flag to return to (the builder's frozen groups);
            None: the current flags.

    Returns:
        The names of the layers that have trainable weights after the call.

    Raises:
        ValueError: a module matches no layer with trainable weights.

    Example:
        >>> set_trainable(model, ("align",))  # doctest: +SKIP
        ['jaanet_align_1_1_conv', ...]
    """
    base = (
        dict(base) if base is not None else {layer.name: layer.trainable for layer in model.layers}
    )
    selected = None
    if modules is not None:
        selected = set()
        for module in modules:
            layers = [
                layer
                for layer in module_layers(model, module)
                if base.get(layer.name, True) and _has_trainable_weights(layer)
            ]
            if not layers:
                known = sorted(
                    {
                        layer.name.removeprefix(f"{model.name}_").split("_")[0]
                        for layer in model.layers
                        if layer.weights
                    }
                )
                raise ValueError(
                    f"Module {module!r} matches no trainable layer of model {model.name!r}. "
                    f"Modules with weights start with: {known}."
                )
            selected.update(layer.name for layer in layers)
    for layer in model.layers:
        flag = base.get(layer.name, layer.trainable)
        layer.trainable = flag and (selected is None or layer.name in selected)
    return [layer.name for layer in model.layers if layer.trainable_weights]


def _has_trainable_weights(layer: keras.layers.Layer) -> bool:
    previous = layer.trainable
    layer.trainable = True
    has = bool(layer.trainable_weights)
    layer.trainable = previous
    return has


def stage_config(config: TrainConfig, stage: Stage) -> TrainConfig:
    """``config`` with the stage's epochs, learning rate and loss weights.

    Raises:
        KeyError: a stage's loss weight names an output without a loss in ``config``.

    Example:
        >>> stage_config(config, JAANET_STAGES[1]).losses["landmarks"].weight  # doctest: +SKIP
        1.0
    """
    data = config.to_dict()
    data["epochs"] = stage.epochs
    # The stage folder's config.json is the single run the stage is.
    data["stages"] = None
    if stage.learning_rate is not None:
        data["optimizer"]["learning_rate"] = float(stage.learning_rate)
    for output, weight in stage.loss_weights.items():
        if output not in data["losses"]:
            raise KeyError(
                f"Stage {stage.name!r} sets the loss weight of output {output!r}, which has no "
                f"loss in the config. Outputs with losses: {sorted(data['losses'])}."
            )
        specs = data["losses"][output]
        for spec in specs if isinstance(specs, list) else [specs]:
            spec["weight"] = float(weight)
    return TrainConfig.from_dict(data)


def build_model(
    config: TrainConfig,
    *,
    data_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    model_name: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> keras.Model:
    """Builds ``config.model`` (or ``model_name``) as the `Trainer` would.

    Under the config's mixed-precision policy and the strategy's scope, ``num_aus`` from the
    training split unless the model kwargs give it.

    Args:
        config: the run's config.
        data_dir: TFDS data directory.
        strategy: where the variables live; None: the default strategy.
        model_name: registry name to build instead of ``config.model``.
        model_kwargs: builder arguments instead of ``config.model_kwargs``.
        **overrides: builder arguments added to (replacing) those.

    Returns:
        The model.

    Example:
        >>> enet = build_model(config, model_name="ENet")  # doctest: +SKIP
    """
    import tfau.data
    import tfau.models

    kwargs = {**(config.model_kwargs if model_kwargs is None else model_kwargs), **overrides}
    if "num_aus" not in kwargs and "aus" not in kwargs:
        examples = tfau.data.load_split(config.dataset, config.train_split, data_dir)
        kwargs["num_aus"] = int(examples.element_spec["au"].shape[-1])
    builder = tfau.models.get(model_name or config.model)
    keras.utils.set_random_seed(config.seed)
    with building_scope(config, strategy):
        return builder(**kwargs)


@contextlib.contextmanager
def building_scope(
    config: TrainConfig, strategy: tf.distribute.Strategy | None = None
) -> Iterator[None]:
    """Builds layers as the `Trainer` does: the config's dtype policy, the strategy's scope.

    Example:
        >>> with building_scope(config, strategy):  # doctest: +SKIP
        ...     model = add_hydranet_head(model, 9)
    """
    previous = keras.config.dtype_policy()
    try:
        if config.mixed_precision:
            keras.config.set_dtype_policy(config.mixed_precision)
        with (strategy or tf.distribute.get_strategy()).scope():
            yield
    finally:
        keras.config.set_dtype_policy(previous)


def run_stages(
    config: TrainConfig,
    stages: Sequence[Stage] | None = None,
    *,
    model: keras.Model | None = None,
    data: RunData | None = None,
    data_dir: str | None = None,
    run_dir: str | None = None,
    pipeline: Callable[..., tf.data.Dataset] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str = "auto",
) -> tuple[keras.Model, list[dict[str, Any]]]:
    """Trains ``model`` through ``stages``, one `Trainer` run per stage.

    Each stage gets `stage_config` (epochs, learning rate, loss weights), a fresh optimizer,
    the layers outside its modules frozen, and the folder ``run_dir/<index>_<name>``. Every
    stage's modules are checked against the model before the first stage trains. After the
    last stage every layer has its builder's trainable flag again.

    Args:
        config: the base config (model, data, losses, optimizer, schedule).
        stages: the stages, e.g. `JAANET_STAGES`; None: ``config.stages``.
        model: the model to train (e.g. after `transfer_au_branches`); None: `build_model`.
        data: the examples every stage trains and validates on (`RunData`); None: the
            config's splits.
        data_dir: TFDS data directory.
        run_dir: parent folder of the stage folders; None: ``config.run_dir``.
        pipeline: `Trainer` pipeline; None: the model's.
        strategy: a ``tf.distribute`` strategy; None: ``make_strategy(config.strategy)``.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).

    Returns:
        ``(model, results)``: one ``{"stage", "run_dir", "trainable", "history", "trainer"}``
        per stage (``results[-1]["trainer"].evaluate()`` tests the final model).

    Example:
        >>> stages = JAANET_STAGES
        >>> model, results = run_stages(config, stages, run_dir="runs")  # doctest: +SKIP

    Reference:
        Shao et al., "Deep Adaptive Attention ...", ECCV 2018, Sec. 4.1.
    """
    run_dir = run_dir or config.run_dir
    if run_dir is None:
        raise ValueError("Staged training needs a `run_dir` (argument or config.run_dir).")
    if stages is None:
        stages = config.stages or []
    stages = list(stages)
    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise ValueError(f"`stages` must be a non-empty sequence of Stage. Received: {stages!r}")
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"Stage names must be distinct. Received: {names}")
    strategy = strategy or make_strategy(config.strategy)
    if model is None:
        model = build_model(config, data_dir=data_dir, strategy=strategy)
    base = {layer.name: layer.trainable for layer in model.layers}
    results = []
    try:
        # A module the model lacks fails now, not after the earlier stages have trained.
        for stage in stages:
            set_trainable(model, stage.trainable, base)
        for index, stage in enumerate(stages, start=1):
            trainable = set_trainable(model, stage.trainable, base)
            folder = os.path.join(run_dir, f"{index}_{stage.name}")
            trainer = Trainer(
                stage_config(config, stage),
                data=data,
                model=model,
                pipeline=pipeline,
                strategy=strategy,
                data_dir=data_dir,
                run_dir=folder,
                log=log,
                verbose=verbose,
            )
            with progress_label(f"stage {index}/{len(stages)} {stage.name}"):
                history = trainer.train()
            results.append(
                {
                    "stage": stage.name,
                    "run_dir": folder,
                    "trainable": trainable,
                    "history": history,
                    "trainer": trainer,
                }
            )
    finally:
        set_trainable(model, None, base)
    return model, results


def run_training(
    config: TrainConfig,
    *,
    model: keras.Model | None = None,
    data: RunData | None = None,
    data_dir: str | None = None,
    run_dir: str | None = None,
    pipeline: Callable[..., tf.data.Dataset] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str = "auto",
) -> list[dict[str, Any]]:
    """Trains ``config``: one `Trainer` run, or its ``stages`` through `run_stages`.

    Without ``config.stages`` the run folder is ``run_dir`` itself; with them, ``run_dir``
    holds the config (``config.json``, stages included) and one folder per stage
    (``<index>_<name>``, each a complete `Trainer` run). Run again after a kill, it resumes:
    finished stages return at once.

    Args:
        config: the run's config.
        model: the model to train; None: built from ``config``.
        data: the examples it trains and validates on (`RunData`); None: the config's
            splits.
        data_dir: TFDS data directory.
        run_dir: run folder; None: ``config.run_dir``.
        pipeline: `Trainer` pipeline; None: the model's.
        strategy: a ``tf.distribute`` strategy; None: ``make_strategy(config.strategy)``.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).

    Returns:
        One ``{"stage", "run_dir", "trainable", "history", "trainer"}`` per stage, as
        `run_stages` returns them; a run without stages is a single entry with stage None.
        ``results[-1]["trainer"].model`` is the trained model.

    Example:
        >>> results = run_training(config, run_dir="runs/jaanet")  # doctest: +SKIP
        >>> results[-1]["trainer"].evaluate("part3")["mean_f1"]  # doctest: +SKIP

    Reference:
        Shao et al., "Deep Adaptive Attention ...", ECCV 2018, Sec. 4.1 (JAA-Net's stages).
    """
    run_dir = run_dir or config.run_dir
    if run_dir is None:
        raise ValueError("A run needs a `run_dir` (argument or config.run_dir).")
    strategy = strategy or make_strategy(config.strategy)
    if config.stages:
        if is_chief(strategy):
            os.makedirs(run_dir, exist_ok=True)
            config.save(os.path.join(run_dir, "config.json"))
        _, results = run_stages(
            config,
            model=model,
            data=data,
            data_dir=data_dir,
            run_dir=run_dir,
            pipeline=pipeline,
            strategy=strategy,
            log=log,
            verbose=verbose,
        )
        return results
    trainer = Trainer(
        config,
        data=data,
        model=model,
        pipeline=pipeline,
        strategy=strategy,
        data_dir=data_dir,
        run_dir=run_dir,
        log=log,
        verbose=verbose,
    )
    history = trainer.train()
    trainable = [layer.name for layer in trainer.model.layers if layer.trainable_weights]
    return [
        {
            "stage": None,
            "run_dir": run_dir,
            "trainable": trainable,
            "history": history,
            "trainer": trainer,
        }
    ]


# --------------------------------------------------------------------------------------------
# JAA-Net: BP4D -> DISFA by AU identity

#: JAA-Net layers holding per-AU weights (module -> layout of the last axis): ``"au_major"``:
#: index ``au * k + j`` (grouped branches), ``"class_major"``: ``j * A + au`` (the head's
#: ``A`` absent logits, then the ``A`` present logits).
JAANET_PER_AU_LAYERS: dict[str, str] = {
    "attention_refinement": "au_major",
    "local": "au_major",
    "au_fc2": "class_major",
}


def model_aus(model: keras.Model) -> tuple[int, ...] | None:
    """The AUs of a model's landmark attention layer (JAA-Net, EAC-Net), or None.

    Example:
        >>> model_aus(tfau.models.JAANet(aus=(1, 2, 4)))  # doctest: +SKIP
        (1, 2, 4)
    """
    for layer in model.layers:
        aus = getattr(layer, "aus", None)
        if aus is not None and type(layer).__name__ == "LandmarkAttention":
            return tuple(int(a) for a in aus)
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


# --------------------------------------------------------------------------------------------
# EAC-Net: FVGG -> E-Net -> EAC-Net, and the DISFA protocol


def _vgg_prefixes(model: keras.Model) -> tuple[str, ...]:
    """Every prefix ``p`` of a VGG stream (``p_block1_conv1``) or fc head (``p_fc6``)."""
    prefixes = []
    for layer in model.layers:
        for suffix in ("_block1_conv1", "_fc6"):
            if layer.name.endswith(suffix):
                prefix = layer.name.removesuffix(suffix)
                if prefix not in prefixes:
                    prefixes.append(prefix)
    return tuple(prefixes)


def transfer_vgg_encoder(
    source: keras.Model,
    target: keras.Model,
    *,
    source_prefix: str | None = None,
    include_fc: bool = True,
    include_head: bool = False,
) -> list[str]:
    """Copies the VGG convolutions (and fc6 / fc7) of ``source`` into every stream of ``target``.

    Args:
        source: a tfau VGG-based model (FVGG, E-Net, the pretrained classifier ...).
        target: a tfau VGG-based model of the same depth and width.
        source_prefix: the source stream's prefix; None: the source's model name.
        include_fc: also copy fc6 / fc7 (the paper's EmoNet keeps all but the output layer).
        include_head: also copy EAC-Net's AU head (``<prefix>_head_fc``,
            ``<prefix>_au_logits``): E-Net is FVGG plus weightless enhancing layers, so it
            starts as a complete copy of FVGG.

    Returns:
        The names of the target layers that were assigned.

    Example:
        >>> transfer_vgg_encoder(fvgg, enet)[:2]  # doctest: +SKIP
        ['enet_block1_conv1', 'enet_block1_conv2']
    """
    from tfau.models.vgg import assign_vgg_weights, vgg_weights_from_model

    prefix = source_prefix or source.name
    weights = vgg_weights_from_model(source, prefix)
    if not include_fc:
        weights = {k: v for k, v in weights.items() if k not in ("fc6", "fc7")}
    assigned = assign_vgg_weights(
        target, weights, prefixes=_vgg_prefixes(target), source=f"model {source.name!r}"
    )
    if include_head:
        for suffix in ("head_fc", "au_logits"):
            origin = source.get_layer(f"{prefix}_{suffix}")
            layer = target.get_layer(f"{target.name}_{suffix}")
            shapes = [tuple(w.shape) for w in origin.weights]
            if shapes != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(
                    f"Cannot copy {origin.name} into {layer.name}: shapes {shapes} and "
                    f"{[tuple(w.shape) for w in layer.weights]}."
                )
            layer.set_weights(origin.get_weights())
            assigned.append(layer.name)
    return assigned


_ENET_ARGUMENTS = (
    "input_size",
    "num_aus",
    "width",
    "fc_units",
    "head_units",
    "dropout",
    "weights",
)


def train_eacnet_staged(
    config: TrainConfig,
    *,
    fvgg_epochs: int | None = None,
    enet_epochs: int | None = None,
    data_dir: str | None = None,
    run_dir: str | None = None,
    pipeline: Callable[..., tf.data.Dataset] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str = "auto",
) -> dict[str, Any]:
    """EAC-Net's three trainings: FVGG, E-Net from FVGG, EAC-Net on the trained E-Net.

    E-Net starts as a copy of the trained FVGG (every layer: E-Net adds only the weightless
    enhancing layers); EAC-Net copies the trained E-Net's VGG layers (``EACNet(enet=...)``),
    its C-Net and fused head are new.

    ``config`` is the EAC-Net run (``model="EACNet"``, its kwargs, losses, optimizer); FVGG
    and E-Net use the same data, losses and optimizer with the E-Net subset of the kwargs
    (FVGG keeps its own ``frozen_groups`` default, the paper's 3). Folders:
    ``run_dir/1_fvgg``, ``2_enet``, ``3_eacnet``.

    Args:
        config: the EAC-Net config.
        fvgg_epochs: FVGG epochs; None: ``config.epochs``; 0 skips FVGG (E-Net then starts
            from the config's VGG weights or at random).
        enet_epochs: E-Net epochs; None: ``config.epochs``.
        data_dir: TFDS data directory.
        run_dir: parent folder; None: ``config.run_dir``.
        pipeline: pipeline of E-Net and EAC-Net (FVGG: the registry's, without landmarks).
        strategy: a ``tf.distribute`` strategy; None: ``make_strategy(config.strategy)``.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).

    Returns:
        ``{"fvgg", "enet", "eacnet"}`` models (``"fvgg"`` None when skipped) and
        ``"histories"`` (stage name -> per-epoch records).

    Example:
        >>> models = train_eacnet_staged(config, run_dir="runs/eacnet")  # doctest: +SKIP
        >>> models["eacnet"].name  # doctest: +SKIP
        'eacnet'

    Reference:
        Li et al., "EAC-Net", FG 2017, Sec. IV-B ("First, VGG fine-tuned net is trained as
        the baseline for our proposed E-Net. EAC-Net training is based on pretrained E-Net
        with new C-Net layers").
    """
    import tfau.data

    run_dir = run_dir or config.run_dir
    if run_dir is None:
        raise ValueError("Staged training needs a `run_dir` (argument or config.run_dir).")
    strategy = strategy or make_strategy(config.strategy)
    for name, value, least in (("fvgg_epochs", fvgg_epochs, 0), ("enet_epochs", enet_epochs, 1)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < least
        ):
            raise ValueError(
                f"`{name}` must be None or an integer >= {least}. Received: {name}={value!r}"
            )
    enet_kwargs = {k: v for k, v in config.model_kwargs.items() if k in _ENET_ARGUMENTS}
    if "frozen_groups" in config.model_kwargs:
        enet_kwargs["frozen_groups"] = config.model_kwargs["frozen_groups"]
    histories: dict[str, list[dict[str, Any]]] = {}

    def train(name: str, index: int, model: keras.Model, epochs: int, stage_pipeline: Any) -> None:
        stage = config.replace(model=model_names[name], epochs=epochs, pipeline=None)
        trainer = Trainer(
            stage,
            model=model,
            pipeline=stage_pipeline,
            strategy=strategy,
            data_dir=data_dir,
            run_dir=os.path.join(run_dir, f"{index}_{name}"),
            log=log,
            verbose=verbose,
        )
        with progress_label(f"stage {index}/3 {name}"):
            histories[name] = trainer.train()

    model_names = {"fvgg": "FVGG", "enet": "ENet", "eacnet": "EACNet"}
    fvgg = None
    fvgg_epochs = config.epochs if fvgg_epochs is None else fvgg_epochs
    if fvgg_epochs:
        fvgg_kwargs = {k: v for k, v in enet_kwargs.items() if k != "frozen_groups"}
        fvgg = build_model(
            config,
            data_dir=data_dir,
            strategy=strategy,
            model_name="FVGG",
            model_kwargs=fvgg_kwargs,
        )
        fvgg_pipeline = tfau.data.get_pipeline("FVGG", **config.pipeline_kwargs)
        train("fvgg", 1, fvgg, fvgg_epochs, fvgg_pipeline)
    enet = build_model(
        config, data_dir=data_dir, strategy=strategy, model_name="ENet", model_kwargs=enet_kwargs
    )
    if fvgg is not None:
        transfer_vgg_encoder(fvgg, enet, include_head=True)
    train("enet", 2, enet, config.epochs if enet_epochs is None else enet_epochs, pipeline)
    eacnet = build_model(config, data_dir=data_dir, strategy=strategy, enet=enet)
    train("eacnet", 3, eacnet, config.epochs, pipeline)
    return {"fvgg": fvgg, "enet": enet, "eacnet": eacnet, "histories": histories}


def feature_model(model: keras.Model, layer: str | None = None) -> keras.Model:
    """A model with ``model``'s inputs returning ``{"features": <layer output>}``.

    Args:
        model: a trained network.
        layer: layer name; None: ``<model name>_head_fc`` (EAC-Net's 2048-d fc features).

    Returns:
        The feature extractor (sharing ``model``'s weights).

    Example:
        >>> feature_model(eacnet).output["features"].shape  # doctest: +SKIP
        (None, 2048)
    """
    name = layer or f"{model.name}_head_fc"
    try:
        output = model.get_layer(name).output
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} has no layer {name!r}. Layers: "
            f"{[layer.name for layer in model.layers if layer.weights]}."
        ) from None
    return keras.Model(model.input, {"features": output}, name=f"{model.name}_features")


def extract_features(
    model: keras.Model, batches: Iterable[Any], layer: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features of ``layer`` and AU labels of every example of ``batches``.

    Args:
        model: a trained network.
        batches: ``(inputs, targets)`` batches with ``targets["au"]`` (a test-time pipeline).
        layer: feature layer; None: ``<model name>_head_fc``.

    Returns:
        ``(features (n, f) float32, labels (n, num_aus))``.

    Example:
        >>> batches = eacnet_pipeline(disfa, training=False, batch_size=32)  # doctest: +SKIP
        >>> features, labels = extract_features(bp4d_eacnet, batches)  # doctest: +SKIP
    """
    extractor = feature_model(model, layer)
    predict = tf.function(lambda inputs: extractor(inputs, training=False)["features"])
    features, labels = [], []
    for inputs, targets in batches:
        features.append(np.asarray(predict(inputs), np.float32).reshape(len(targets["au"]), -1))
        labels.append(np.asarray(targets["au"]))
    if not features:
        raise ValueError("`batches` is empty: no features to extract.")
    return np.concatenate(features), np.concatenate(labels)


@dataclasses.dataclass
class LinearAURegression:
    """Per-AU linear regression of 0 / 1 labels on features (EAC-Net's DISFA protocol).

    Args:
        weights: ``(f, num_aus)`` coefficients.
        bias: ``(num_aus,)`` intercepts.

    Example:
        >>> regression = fit_linear_au_regression(features, labels)  # doctest: +SKIP
        >>> scores = regression.predict(test_features)  # doctest: +SKIP
    """

    weights: np.ndarray
    bias: np.ndarray

    def predict(self, features: Any) -> np.ndarray:
        """Scores ``(n, num_aus)``: the regressed labels (an AU is present where >= 0.5)."""
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or features.shape[1] != self.weights.shape[0]:
            raise ValueError(
                f"`features` must have shape (n, {self.weights.shape[0]}). "
                f"Received: shape={features.shape}"
            )
        return (features @ self.weights + self.bias).astype(np.float32)


def fit_linear_au_regression(features: Any, labels: Any, l2: float = 0.0) -> LinearAURegression:
    """Least-squares regression of each AU's 0 / 1 labels on the features, -1 labels ignored.

    Each AU is fit on its own known examples: ``min ||[X 1] w - y||^2 + l2 ||w_X||^2`` (the
    intercept is not penalised), solved with ``numpy.linalg.lstsq`` (minimum-norm solution
    when the features are rank deficient).

    Args:
        features: ``(n, f)`` features (e.g. `extract_features`).
        labels: ``(n, num_aus)`` labels 1 / 0 / -1 (unknown).
        l2: ridge penalty (>= 0). Defaults to 0.

    Returns:
        The `LinearAURegression`.

    Raises:
        ValueError: shapes disagree, or an AU has no known label.

    Reference:
        Li et al., "EAC-Net", FG 2017, Sec. IV-B(2): "we use linear regression to transform
        our 1x2048 features to 1x8 AU prediction labels".
    """
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            "`features` (n, f) and `labels` (n, num_aus) must have the same n. "
            f"Received: features shape={x.shape}, labels shape={y.shape}"
        )
    if not (isinstance(l2, int | float) and l2 >= 0):
        raise ValueError(f"`l2` must be a number >= 0. Received: l2={l2!r}")
    design = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    penalty = np.sqrt(l2) * np.eye(x.shape[1], x.shape[1] + 1)
    coefficients = np.zeros((x.shape[1] + 1, y.shape[1]))
    for au in range(y.shape[1]):
        known = y[:, au] >= 0
        if not known.any():
            raise ValueError(f"AU column {au} has no known (0 / 1) label to fit.")
        a, b = design[known], y[known, au]
        if l2:
            a = np.concatenate([a, penalty])
            b = np.concatenate([b, np.zeros(x.shape[1])])
        coefficients[:, au] = np.linalg.lstsq(a, b, rcond=None)[0]
    return LinearAURegression(weights=coefficients[:-1], bias=coefficients[-1])


def linear_transfer_fold(
    model: keras.Model,
    *,
    dataset: str,
    train_split: str,
    test_split: str,
    data_dir: str | None = None,
    pipeline: Callable[..., tf.data.Dataset] | None = None,
    layer: str | None = None,
    l2: float = 0.0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """One fold of EAC-Net's DISFA protocol: BP4D features, regression fit on DISFA training.

    Args:
        model: the network trained on BP4D (FVGG, E-Net or EAC-Net).
        dataset: the target TFDS dataset (``"disfa/aligned200"``).
        train_split: its training parts (``"part1+part2"``).
        test_split: its test part.
        data_dir: TFDS data directory.
        pipeline: test-time pipeline feeding ``model``; None: the registry's for the model.
        layer: feature layer; None: ``<model name>_head_fc``.
        l2: ridge penalty of the regression.
        batch_size: batch size of the feature extraction.

    Returns:
        ``{"regression", "f1", "accuracy", "mean_f1", "mean_accuracy", "num_train",
        "num_test"}`` (per-AU lists, threshold 0.5).

    Example:
        >>> fold = linear_transfer_fold(bp4d_eacnet, dataset="disfa/unaligned224",  # doctest: +SKIP
        ...                             train_split="part1+part2", test_split="part3")
        >>> fold["mean_f1"]  # doctest: +SKIP

    Reference:
        Li et al., "EAC-Net", FG 2017, Sec. IV-B(2) and Tables V-VI.
    """
    import tfau.data
    from tfau.metrics import accuracy, f1_frame

    registry = {"fvgg": "FVGG", "enet": "ENet", "eacnet": "EACNet"}
    if pipeline is None:
        pipeline = tfau.data.get_pipeline(registry.get(model.name, model.name))
    parts = {}
    for split in (train_split, test_split):
        examples = tfau.data.load_split(dataset, split, data_dir)
        batches = pipeline(examples, training=False, batch_size=batch_size)
        parts[split] = extract_features(model, batches, layer)
    regression = fit_linear_au_regression(*parts[train_split], l2=l2)
    test_features, test_labels = parts[test_split]
    scores = regression.predict(test_features)
    f1 = f1_frame(test_labels, scores)
    acc = accuracy(test_labels, scores)
    return {
        "regression": regression,
        "f1": f1.tolist(),
        "accuracy": acc.tolist(),
        "mean_f1": float(np.mean(f1)),
        "mean_accuracy": float(np.mean(acc)),
        "num_train": int(parts[train_split][0].shape[0]),
        "num_test": int(test_features.shape[0]),
    }


# --------------------------------------------------------------------------------------------
# AUNets: HydraNet heads one at a time, EmoNet domain adaptation


def select_aus(
    pipeline: Callable[..., tf.data.Dataset], au_indices: Sequence[int]
) -> Callable[..., tf.data.Dataset]:
    """``pipeline`` keeping only the label columns ``au_indices`` (in that order).

    Example:
        >>> pipeline = select_aus(tfau.data.get_pipeline("HydraNet"), [0, 2])  # doctest: +SKIP
    """
    indices = [int(i) for i in au_indices]

    def selected(dataset: tf.data.Dataset, **kwargs: Any) -> tf.data.Dataset:
        return pipeline(dataset, **kwargs, au_indices=indices)

    selected.config = getattr(pipeline, "config", None)  # type: ignore[attr-defined]
    selected.__name__ = f"{getattr(pipeline, '__name__', 'pipeline')}_aus"
    return selected


def dataset_au_columns(
    dataset: str, aus: Sequence[int | str], data_dir: str | None = None
) -> list[int]:
    """Label columns of ``aus`` in a TFDS dataset (its ``standard_aus`` metadata).

    Example:
        >>> dataset_au_columns("bp4d/aligned200", [4, 12])  # doctest: +SKIP
        [2, 6]
    """
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401  (registers the builders)

    metadata = tfds.builder(dataset, data_dir=data_dir).info.metadata or {}
    standard = [str(a).removeprefix("AU") for a in metadata.get("standard_aus", [])]
    columns = []
    for au in aus:
        label = str(au).removeprefix("AU")
        if label not in standard:
            raise ValueError(f"AU {au!r} is not an AU of {dataset!r}; its AUs: {standard}.")
        columns.append(standard.index(label))
    return columns


def train_hydranet_heads(
    config: TrainConfig,
    aus: Sequence[int | str],
    *,
    model: keras.Model | None = None,
    columns: Sequence[int] | None = None,
    data_dir: str | None = None,
    run_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str = "auto",
) -> tuple[keras.Model, dict[str, list[dict[str, Any]]]]:
    """Grows a HydraNet one head per AU, each trained alone on the frozen shared encoder.

    For each AU of ``aus`` in turn: a head is added (`tfau.models.add_hydranet_head`), every
    other layer (encoder and earlier heads) is frozen, and ``config.epochs`` epochs train the
    new head on the labels of the heads so far (the earlier heads are frozen, so only the new
    AU's loss moves weights). Folders ``run_dir/<index>_au<label>``.

    Args:
        config: a HydraNet config (``model="HydraNet"``, its kwargs without ``aus`` /
            ``num_aus``).
        aus: AU labels, in the order the heads are grown.
        model: a HydraNet to grow (its existing heads stay frozen); None: built from
            ``config`` with the first AU's head.
        columns: dataset label column of each AU; None: from the dataset's AU metadata.
        data_dir: TFDS data directory.
        run_dir: parent folder; None: ``config.run_dir``.
        strategy: a ``tf.distribute`` strategy; None: ``make_strategy(config.strategy)``.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).

    Returns:
        ``(model, histories)``: the grown HydraNet, AU label -> per-epoch records.

    Example:
        >>> model, _ = train_hydranet_heads(config, [1, 2, 4], run_dir="runs")  # doctest: +SKIP
        >>> model, _ = train_hydranet_heads(config, [9], model=model)  # doctest: +SKIP

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", Sec. 3.2.1
        ("learning separate weights at the upper layers sequentially for each action unit").
    """
    import tfau.data
    from tfau.models import add_hydranet_head
    from tfau.models.aunets import hydranet_aus

    run_dir = run_dir or config.run_dir
    if run_dir is None:
        raise ValueError("Staged training needs a `run_dir` (argument or config.run_dir).")
    labels = [str(au) for au in aus]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"`aus` must be distinct AU labels. Received: aus={list(aus)!r}")
    strategy = strategy or make_strategy(config.strategy)
    existing = [] if model is None else hydranet_aus(model)
    if columns is None:
        columns = dataset_au_columns(config.dataset, existing + labels, data_dir)
    columns = [int(c) for c in columns]
    if len(columns) != len(existing) + len(labels):
        raise ValueError(
            f"`columns` must give the label column of each head ({existing + labels}). "
            f"Received: columns={columns}"
        )
    base_pipeline = tfau.data.get_pipeline(
        config.pipeline or config.model, **config.pipeline_kwargs
    )
    histories = {}
    base: dict[str, bool] = {}
    for index, label in enumerate(labels):
        if model is None:
            model = build_model(
                config, data_dir=data_dir, strategy=strategy, num_aus=1, aus=[label]
            )
        else:
            # A seeded, reproducible head in the run's dtype policy.
            keras.utils.set_random_seed(config.seed + len(hydranet_aus(model)))
            with building_scope(config, strategy):
                model = add_hydranet_head(model, label)
        for layer in model.layers:
            base.setdefault(layer.name, layer.trainable)
        heads = hydranet_aus(model)
        set_trainable(model, (f"au{label}",), base)
        trainer = Trainer(
            config,
            model=model,
            pipeline=select_aus(base_pipeline, columns[: len(heads)]),
            strategy=strategy,
            data_dir=data_dir,
            run_dir=os.path.join(run_dir, f"{len(existing) + index + 1}_au{label}"),
            log=log,
            verbose=verbose,
        )
        with progress_label(f"head {len(heads)}/{len(existing) + len(labels)} AU{label}"):
            histories[label] = trainer.train()
    set_trainable(model, None, base)
    return model, histories


def pretrain_vgg_classifier(
    batches: tf.data.Dataset,
    num_classes: int,
    *,
    target: str = "view",
    input_size: int = 224,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    epochs: int = 1,
    learning_rate: float = 1e-4,
    weights: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """AUNets' domain adaptation: a VGG-16 classifier trained on another labelled face task.

    The paper trains VGG-16 (ImageNet weights) for 22-way compound-emotion classification
    ("EmoNet") and uses it without its output layer as the encoder of every AU network. Any
    labelled face data serves: ``batches`` yields ``(inputs, targets)`` with
    ``inputs["image"]`` and integer class labels ``targets[target]`` (e.g. SynthAU's camera
    view through the ``AUNetsViewClassifier`` pipeline). The network is
    ``tfau.models.AUNetsViewClassifier`` (VGG-16, fc6, fc7, ``num_classes``-way softmax),
    trained with Adam (betas 0.5, 0.999, the AUNets recipe) on the cross-entropy.

    Args:
        batches: training batches.
        num_classes: number of classes (>= 2).
        target: key of the class labels in the targets. Defaults to ``"view"``.
        input_size: side of the images. Defaults to 224.
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of fc6 / fc7. Defaults to 4096.
        dropout: dropout after fc6 / fc7. Defaults to 0.5.
        epochs: epochs over ``batches``. Defaults to 1.
        learning_rate: Adam learning rate. Defaults to 1e-4.
        weights: None or a local VGG-16 weights file to start from (ImageNet).
        seed: initialisation and dropout seed.

    Returns:
        ``(classifier, history)``: the trained classifier and Keras' per-epoch loss / accuracy.

    Example:
        >>> views = view_pipeline(train, training=True, batch_size=32)  # doctest: +SKIP
        >>> emonet, history = pretrain_vgg_classifier(views, num_classes=9)  # doctest: +SKIP

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", Sec. 3.2, 4.1.3
        (+6 F1 over ImageNet weights on BP4D, Table 1).
    """
    from tfau.models import AUNetsViewClassifier

    keras.utils.set_random_seed(seed)
    classifier = AUNetsViewClassifier(
        input_size=input_size,
        num_views=num_classes,
        width=width,
        fc_units=fc_units,
        dropout=dropout,
        weights=weights,
    )

    def relabel(inputs: Any, targets: Any) -> Any:
        if target not in targets:
            raise KeyError(f"The batches have no target {target!r}; targets: {sorted(targets)}.")
        return {"image": inputs["image"]}, {"view": targets[target]}

    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.999),
        loss={"view": keras.losses.SparseCategoricalCrossentropy()},
        metrics={"view": ["accuracy"]},
    )
    history = classifier.fit(batches.map(relabel), epochs=epochs, verbose=0)
    return classifier, {k: [float(v) for v in vs] for k, vs in history.history.items()}


def train_aunets_domain_adapted(
    config: TrainConfig,
    pretrain_batches: tf.data.Dataset,
    num_classes: int,
    *,
    target: str = "view",
    pretrain_epochs: int = 1,
    pretrain_learning_rate: float = 1e-4,
    include_fc: bool = True,
    data_dir: str | None = None,
    run_dir: str | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str = "auto",
) -> dict[str, Any]:
    """Pretrains the VGG-16 encoder on another labelled face task, then trains on AUs.

    Args:
        config: the AU run (``AUNet`` / ``HydraNet`` / fusions; their ``width``,
            ``input_size`` and ``fc_units`` also shape the pretrained classifier).
        pretrain_batches: labelled face batches (see `pretrain_vgg_classifier`).
        num_classes: classes of the pretraining task.
        target: key of the class labels. Defaults to ``"view"``.
        pretrain_epochs: pretraining epochs.
        pretrain_learning_rate: pretraining Adam learning rate.
        include_fc: carry fc6 / fc7 over too (the paper drops only the output layer).
        data_dir: TFDS data directory of the AU data.
        run_dir: the AU run's folder; None: ``config.run_dir``.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).

    Returns:
        ``{"pretrained", "model", "transferred", "pretrain_history", "history"}``.

    Example:
        >>> result = train_aunets_domain_adapted(config, emotion_batches, 22)  # doctest: +SKIP

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", Sec. 3.2, 4.1.3.
    """
    kwargs = config.model_kwargs
    input_size = kwargs.get("input_size", 224)
    if not isinstance(input_size, int):
        input_size = int(input_size[0])
    pretrained, pretrain_history = pretrain_vgg_classifier(
        pretrain_batches,
        num_classes,
        target=target,
        input_size=input_size,
        width=kwargs.get("width", 1.0),
        fc_units=kwargs.get("fc_units", 4096),
        dropout=kwargs.get("dropout", 0.5),
        epochs=pretrain_epochs,
        learning_rate=pretrain_learning_rate,
        seed=config.seed,
    )
    strategy = make_strategy(config.strategy)
    model = build_model(config, data_dir=data_dir, strategy=strategy)
    transferred = transfer_vgg_encoder(pretrained, model, include_fc=include_fc)
    trainer = Trainer(
        config,
        model=model,
        strategy=strategy,
        data_dir=data_dir,
        run_dir=run_dir,
        log=log,
        verbose=verbose,
    )
    history = trainer.train()
    return {
        "pretrained": pretrained,
        "model": model,
        "transferred": transferred,
        "pretrain_history": pretrain_history,
        "history": history,
    }
