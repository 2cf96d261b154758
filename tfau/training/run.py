"""One run of a config: a single `Trainer` run, or its stages one after the other.

`run_training` is what ``tfau train`` and every fold of ``tfau cv`` call. A config without
``stages`` is one `Trainer` run in ``run_dir``; with them, `run_stages` runs each `Stage` as
an ordinary `Trainer` run in ``run_dir/<index>_<name>``: the stage's epochs, learning rate and
loss weights (`stage_config`), the layers outside its modules frozen (`set_trainable`), and,
where the stage names a new network or an ``init``, the model it builds (EAC-Net's FVGG ->
E-Net -> EAC-Net, a HydraNet growing one head per stage, JAA-Net started from a BP4D model).

How a stage's model starts from the previous one is a hand-over: a function registered by a
paper recipe (`register_handover`, ``tfau/training/recipes/<paper>.py``) and named by the
stage's ``init``. The recipes hold the papers' facts (their stage lists, weight copies);
this module holds the only loop that runs them. A killed staged run resumes where it
stopped: finished stages restore their last checkpoint and return at once.

Example:
    >>> from tfau.training import JAANET_STAGES, run_stages
    >>> model, results = run_stages(config, JAANET_STAGES, run_dir="runs/jaanet")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

from tfau.training.building import build_model, builder_kwargs, building_scope
from tfau.training.config import Stage, TrainConfig
from tfau.training.progress import progress_label
from tfau.training.run_data import RunData
from tfau.training.strategy import is_chief, make_strategy
from tfau.training.trainer import Trainer


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
    """``config`` as the single run ``stage`` is: its epochs, learning rate, loss weights, and
    its network, pipeline and AUs where it names them.

    A stage naming a ``model`` takes the config's ``model_kwargs`` its builder accepts
    (`tfau.training.building.builder_kwargs`) plus its own, and its own pipeline (the model's
    unless it names one).

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
    if stage.model is not None:
        data["model"] = stage.model
        data["model_kwargs"] = {
            **builder_kwargs(stage.model, config.model_kwargs),
            **stage.model_kwargs,
        }
        data["pipeline"] = None
    if stage.pipeline is not None:
        data["pipeline"] = stage.pipeline
    if stage.aus is not None:
        data["aus"] = list(stage.aus)
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


@dataclasses.dataclass(frozen=True)
class HandoverContext:
    """What a hand-over gets to make a stage's model.

    Args:
        config: the stage's config (`stage_config`: its ``model``, ``model_kwargs``,
            ``aus``, seed and precision).
        previous: the model the previous stage trained (the run's ``model`` argument before
            the first stage), or None.
        data: the run's examples (`RunData`).
        strategy: where the variables live.
        data_dir: TFDS data directory.
        stage: the stage.
    """

    config: TrainConfig
    previous: keras.Model | None
    data: RunData
    strategy: tf.distribute.Strategy
    data_dir: str | None
    stage: Stage

    def build(self, **overrides: Any) -> keras.Model:
        """The stage's network, built as every network of a run is (`build_model`)."""
        return build_model(self.config, data=self.data, strategy=self.strategy, **overrides)

    def scope(self) -> contextlib.AbstractContextManager[None]:
        """The run's dtype policy and strategy scope, for layers made outside `build`."""
        return building_scope(self.config, self.strategy)

    def previous_model(self) -> keras.Model:
        """``previous``; a ValueError naming the stage when there is none."""
        if self.previous is None:
            raise ValueError(
                f"Stage {self.stage.name!r} starts from the previous stage's model "
                f"(init={self.stage.init!r}), but it is the first stage and no `model` was given."
            )
        return self.previous


#: Hand-over name -> ``fn(context: HandoverContext, **arguments) -> keras.Model``.
HANDOVERS: dict[str, Callable[..., keras.Model]] = {}


def register_handover(
    name: str,
) -> Callable[[Callable[..., keras.Model]], Callable[..., keras.Model]]:
    """Registers ``fn(context, **arguments) -> model`` as the hand-over ``name`` of `Stage.init`.

    Example:
        >>> @register_handover("vgg_encoder")  # doctest: +SKIP
        ... def start_from_vgg(context, include_head=False): ...
    """

    def decorator(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in HANDOVERS:
            raise ValueError(f"A hand-over named {name!r} is already registered.")
        HANDOVERS[name] = fn
        return fn

    return decorator


def get_handover(name: str) -> Callable[..., keras.Model]:
    """The registered hand-over ``name``; a KeyError lists the registered ones."""
    import tfau.training.recipes  # noqa: F401  (the recipes register their hand-overs)

    try:
        return HANDOVERS[name]
    except KeyError:
        raise KeyError(
            f"No hand-over named {name!r}. Hand-overs: {', '.join(sorted(HANDOVERS))}."
        ) from None


def _check_stages(stages: Sequence[Stage]) -> None:
    """Everything about ``stages`` that can fail before a stage trains."""
    import tfau.models

    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise ValueError(f"`stages` must be a non-empty sequence of Stage. Received: {stages!r}")
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"Stage names must be distinct. Received: {names}")
    for stage in stages:
        if stage.model is not None:
            tfau.models.get(stage.model)
        if stage.init is not None:
            arguments = {k: v for k, v in stage.init.items() if k != "name"}
            handover = get_handover(stage.init["name"])
            try:
                inspect.signature(handover).bind(None, **arguments)
            except TypeError as error:
                raise ValueError(
                    f"Stage {stage.name!r}: bad arguments of hand-over {stage.init['name']!r} "
                    f"({error}). Received: init={stage.init!r}"
                ) from None


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
    first_index: int = 1,
) -> tuple[keras.Model, list[dict[str, Any]]]:
    """Trains through ``stages``, one `Trainer` run per stage.

    Each stage gets `stage_config`, a fresh optimizer, the layers outside its modules frozen,
    and the folder ``run_dir/<index>_<name>``. A stage naming a ``model`` or an ``init``
    trains a new model: its ``init`` hand-over's (from the previous model), else its
    network built fresh; later stages train that one. A stage's ``model``,
    ``model_kwargs``, ``pipeline`` and ``aus`` hold for the later stages until one sets them
    again. Stage names, networks, hand-overs and the modules of the stages training the first
    model are checked before the first stage trains. After the last stage every layer of the
    final model has its builder's trainable flag again.

    Args:
        config: the base config (model, data, losses, optimizer, schedule).
        stages: the stages, e.g. `JAANET_STAGES`; None: ``config.stages``.
        model: the model the first stage trains (or hands over from, when it has an
            ``init``); None: built from ``config`` (`build_model`).
        data: the examples every stage trains and validates on (`RunData`); None: the
            config's splits.
        data_dir: TFDS data directory.
        run_dir: parent folder of the stage folders; None: ``config.run_dir``.
        pipeline: `Trainer` pipeline of the stages naming no pipeline of their own; None:
            each stage's model's.
        strategy: a ``tf.distribute`` strategy; None: ``make_strategy(config.strategy)``.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).
        first_index: index of the first stage, for stages continuing earlier ones (a
            HydraNet grown by more heads): folders ``<first_index>_<name>`` on.

    Returns:
        ``(model, results)``: the final model and one ``{"stage", "run_dir", "trainable",
        "history", "trainer"}`` per stage (``results[i]["trainer"].model`` is the model
        stage ``i`` trained; ``results[-1]["trainer"].evaluate()`` tests the final one).

    Example:
        >>> model, results = run_stages(config, JAANET_STAGES, run_dir="runs")  # doctest: +SKIP

    Reference:
        Shao et al., "Deep Adaptive Attention ...", ECCV 2018, Sec. 4.1.
    """
    run_dir = run_dir or config.run_dir
    if run_dir is None:
        raise ValueError("Staged training needs a `run_dir` (argument or config.run_dir).")
    stages = list((config.stages or []) if stages is None else stages)
    _check_stages(stages)
    strategy = strategy or make_strategy(config.strategy)
    if model is None and stages[0].model is None and stages[0].init is None:
        model = build_model(
            stage_config(config, stages[0]), data=data, data_dir=data_dir, strategy=strategy
        )
    base: dict[str, bool] = {}
    results = []
    with _restoring_flags(base) as models:
        if model is not None:
            models.append(model)
            base.update({layer.name: layer.trainable for layer in model.layers})
            # A module the model lacks fails now, not after the earlier stages have trained.
            for stage in stages:
                if stage.model is not None or stage.init is not None:
                    break
                set_trainable(model, stage.trainable, base)
        if data is None:
            data = RunData.from_splits(
                config.dataset, config.train_split, config.val_split, data_dir=data_dir
            )
        previous = None
        last = first_index + len(stages) - 1
        for index, stage in enumerate(stages, start=first_index):
            run_config = _carry(stage_config(config, stage), previous, stage)
            previous = run_config
            if stage.model is not None or stage.init is not None:
                model = _stage_model(run_config, stage, model, data, strategy, data_dir)
                models.append(model)
                for layer in model.layers:
                    base.setdefault(layer.name, layer.trainable)
            trainable = set_trainable(model, stage.trainable, base)
            folder = os.path.join(run_dir, f"{index}_{stage.name}")
            trainer = Trainer(
                run_config,
                data=data,
                model=model,
                pipeline=pipeline if stage.pipeline is None else None,
                strategy=strategy,
                data_dir=data_dir,
                run_dir=folder,
                log=log,
                verbose=verbose,
            )
            with progress_label(f"stage {index}/{last} {stage.name}"):
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
    return model, results


def _carry(run_config: TrainConfig, previous: TrainConfig | None, stage: Stage) -> TrainConfig:
    """``run_config`` with the network, pipeline and AUs of the previous stage where
    ``stage`` sets none of its own."""
    if previous is None:
        return run_config
    carried: dict[str, Any] = {}
    if stage.model is None:
        carried.update(model=previous.model, model_kwargs=previous.model_kwargs)
        if stage.pipeline is None:
            carried["pipeline"] = previous.pipeline
    if stage.aus is None:
        carried["aus"] = previous.aus
    return run_config.replace(**carried)


@contextlib.contextmanager
def _restoring_flags(base: Mapping[str, bool]) -> Iterator[list[keras.Model]]:
    """Yields a list of models; on exit each gets its ``base`` trainable flags back."""
    models: list[keras.Model] = []
    try:
        yield models
    finally:
        for model in models:
            set_trainable(model, None, base)


def _stage_model(
    config: TrainConfig,
    stage: Stage,
    previous: keras.Model | None,
    data: RunData,
    strategy: tf.distribute.Strategy,
    data_dir: str | None,
) -> keras.Model:
    """The model a stage with a ``model`` or an ``init`` trains."""
    context = HandoverContext(config, previous, data, strategy, data_dir, stage)
    if stage.init is None:
        return context.build()
    arguments = {k: v for k, v in stage.init.items() if k != "name"}
    return get_handover(stage.init["name"])(context, **arguments)


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
