"""`TrainConfig`: everything one training run needs, as plain data (JSON round trip).

Its parts are plain data too: `LossSpec` (one loss term), `OptimizerSpec` and `Stage` (one
stage of the papers' staged trainings, ``TrainConfig.stages``).

Example:
    >>> config = TrainConfig(model="DRML", dataset="synth_au/tiny", batch_size=4)
    >>> TrainConfig.from_dict(config.to_dict()) == config
    True
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")
MIXED_PRECISION = (None, "mixed_float16", "mixed_bfloat16")
#: Learning-rate schedules of `OptimizerSpec.schedule`.
SCHEDULES = ("constant", "step", "epoch_step", "cosine")
#: Keys of a stage dict in ``TrainConfig.stages`` (the fields of `Stage`).
STAGE_FIELDS = (
    "name",
    "epochs",
    "trainable",
    "learning_rate",
    "loss_weights",
    "model",
    "model_kwargs",
    "pipeline",
    "init",
    "aus",
)


@dataclasses.dataclass
class LossSpec:
    """One loss term on one model output.

    Args:
        name: a `tfau.training.losses` name (``"sigmoid_cross_entropy"``,
            ``"offset_cross_entropy"``, ``"weighted_bce"``, ``"weighted_softmax_ce"``,
            ``"weighted_dice"``, ``"alignment"``, ``"attention_refinement"``).
        weight: factor of this term in the total loss (JAA-Net's lambdas).
        kwargs: keyword arguments of the loss function; a weight argument given as
            ``"auto"`` is computed from the training split's labels.
        target: None: ``y_true`` is the pipeline's target of the same output; else the name of
            another model output used as ``y_true`` (without gradient), e.g. JAA-Net's
            refinement loss (eq. 4) on ``"attention"`` with ``target="attention_initial"``.
    """

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    target: str | None = None


@dataclasses.dataclass
class OptimizerSpec:
    """Optimizer and learning-rate schedule.

    Args:
        name: ``"sgd"`` (momentum, optionally Nesterov) or ``"adam"``.
        learning_rate: base learning rate.
        momentum: SGD momentum.
        nesterov: Nesterov momentum (SGD).
        weight_decay: weight decay (Keras' decoupled form, scaled by the learning rate).
        beta_1: Adam's beta_1.
        beta_2: Adam's beta_2.
        epsilon: Adam's epsilon.
        schedule: ``"constant"``, ``"step"`` (x ``decay_factor`` every ``decay_steps``
            iterations, DRML), ``"epoch_step"`` (x ``decay_factor`` every ``decay_epochs``
            epochs, JAA-Net) or ``"cosine"`` (a linear warm-up from a tenth of
            ``learning_rate`` over ``warmup_epochs``, then a cosine decay to 0 at the last step
            of training: short runs such as ``tfau demo``).
        decay_factor: multiplicative decay of the step schedules.
        decay_steps: iterations between decays (``"step"``).
        decay_epochs: epochs between decays (``"epoch_step"``).
        warmup_epochs: length of the ``"cosine"`` schedule's warm-up, in epochs (may be a
            fraction); 0 starts at ``learning_rate``.
    """

    name: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float | None = None
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    schedule: str = "constant"
    decay_factor: float = 0.1
    decay_steps: int = 4000
    decay_epochs: int = 2
    warmup_epochs: float = 0.0


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a staged training: which model, what trains, how long, at which rate.

    A stage trains the previous stage's model (the config's for the first stage) unless it
    names a new ``model`` or an ``init``: then it builds its own, e.g. EAC-Net's E-Net after
    FVGG, started from the trained FVGG by the ``init`` hand-over.

    Args:
        name: the stage's name (its run folder is ``<index>_<name>``).
        epochs: epochs of the stage.
        trainable: None: every layer keeps the trainable flag its builder gave it; else the
            modules trained in this stage, all other layers frozen. A module ``m`` is every
            layer whose name, without the model name prefix (``jaanet_``), is ``m`` or starts
            with ``m_``: ``"align"`` is ``jaanet_align_1_1_conv`` ... ``jaanet_align_fc2``.
            Frozen layers keep their weights and BatchNorm statistics.
        learning_rate: initial learning rate of the stage; None: the config's.
        loss_weights: output -> weight of its loss terms in this stage (JAA-Net's lambda1 is
            ``{"landmarks": ...}``); outputs not named keep the config's weights.
        model: ``tfau.models`` name of a network this stage builds, from the config's
            ``model_kwargs`` that its builder takes plus ``model_kwargs``; later stages train
            it on. None: the previous stage's network.
        model_kwargs: builder arguments of ``model`` added to (replacing) the config's.
        pipeline: ``tfau.data`` pipeline name of this stage; None: the stage model's own
            (the config's pipeline while the config's model trains).
        init: how the stage's model starts: None, or a hand-over registered by a paper
            recipe (`tfau.training.run.register_handover`), by name or as a dict
            ``{"name": ..., **arguments}``, e.g. ``{"name": "vgg_encoder", "include_head":
            true}`` copies the previous model's VGG layers into the new one.
        aus: train on these AUs of the dataset only (`TrainConfig.aus`); None: the config's.

    A `TrainConfig` lists its stages in ``stages``; `tfau.training.run.run_stages` runs them.

    Example:
        >>> stage = Stage("alignment", epochs=2, trainable=["align"], learning_rate=1e-3)
        >>> stage.trainable
        ('align',)
        >>> Stage("enet", epochs=2, model="ENet", init="vgg_encoder").init
        {'name': 'vgg_encoder'}

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018, Sec. 4.1 (the staged schedule).
    """

    name: str
    epochs: int
    trainable: tuple[str, ...] | None = None
    learning_rate: float | None = None
    loss_weights: Mapping[str, float] = dataclasses.field(default_factory=dict)
    model: str | None = None
    model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    pipeline: str | None = None
    init: str | Mapping[str, Any] | None = None
    aus: tuple[int | str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(
                f"`name` must be a non-empty string without '/'. Received: name={self.name!r}"
            )
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(
                f"`epochs` must be a positive integer. Received: epochs={self.epochs!r}"
            )
        if self.trainable is not None:
            if isinstance(self.trainable, str):
                raise ValueError(
                    "`trainable` must be None or a sequence of module names, not a string. "
                    f"Received: trainable={self.trainable!r}"
                )
            modules = tuple(self.trainable)
            if not modules or not all(isinstance(m, str) and m for m in modules):
                raise ValueError(
                    "`trainable` must be None or a non-empty sequence of module names. "
                    f"Received: trainable={self.trainable!r}"
                )
            object.__setattr__(self, "trainable", modules)
        if self.learning_rate is not None and (
            isinstance(self.learning_rate, bool)
            or not isinstance(self.learning_rate, int | float)
            or self.learning_rate <= 0
        ):
            raise ValueError(
                "`learning_rate` must be None or a positive number. "
                f"Received: learning_rate={self.learning_rate!r}"
            )
        if not isinstance(self.loss_weights, Mapping):
            raise ValueError(
                "`loss_weights` must map outputs to numbers >= 0. "
                f"Received: loss_weights={self.loss_weights!r}"
            )
        for output, weight in dict(self.loss_weights).items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ValueError(
                    f"`loss_weights` must map outputs to numbers >= 0. "
                    f"Received: {output!r}: {weight!r}"
                )
        object.__setattr__(self, "loss_weights", dict(self.loss_weights))
        for field in ("model", "pipeline"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(
                    f"`{field}` must be None or a registry name. Received: {field}={value!r}"
                )
        if not isinstance(self.model_kwargs, Mapping) or (self.model_kwargs and self.model is None):
            raise ValueError(
                "`model_kwargs` must be a dict of builder arguments of the stage's `model`. "
                f"Received: model={self.model!r}, model_kwargs={self.model_kwargs!r}"
            )
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        object.__setattr__(self, "init", _handover_spec(self.init))
        if self.aus is not None:
            object.__setattr__(self, "aus", tuple(check_aus(self.aus)))


def _handover_spec(init: Any) -> dict[str, Any] | None:
    """``init`` as ``{"name": ..., **arguments}`` (a name alone is ``{"name": name}``)."""
    if init is None:
        return None
    spec = {"name": init} if isinstance(init, str) else init
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise ValueError(
            "`init` must be None, a hand-over name or a dict with its name under 'name'. "
            f"Received: init={init!r}"
        )
    return dict(spec)


def check_aus(aus: Any) -> list[int | str]:
    """``aus`` as a list of distinct AU labels (``1``, ``"12"``, ``"AU4"``).

    Raises:
        ValueError: not a non-empty sequence of distinct labels.
    """
    if isinstance(aus, str | bytes | Mapping) or not isinstance(aus, list | tuple) or not aus:
        raise ValueError(f"`aus` must be None or a non-empty list of AUs. Received: aus={aus!r}")
    labels = [str(au).removeprefix("AU") for au in aus]
    if any(isinstance(au, bool) or not isinstance(au, int | str) for au in aus) or len(
        set(labels)
    ) != len(labels):
        raise ValueError(f"`aus` must hold distinct AU labels. Received: aus={list(aus)!r}")
    return list(aus)


@dataclasses.dataclass
class TrainConfig:
    """One training run.

    Args:
        model: ``tfau.models`` registry name.
        model_kwargs: builder arguments (``num_aus`` defaults to the number of AUs trained).
        dataset: TFDS name and config, e.g. ``"synth_au/tiny"``.
        aus: train and evaluate on these AUs of the dataset only, in this order (label
            columns chosen by the dataset's AU metadata); None: every AU of the dataset.
        train_split: training split, e.g. ``"part1+part2"``.
        val_split: validation split for model selection / early stopping (None: none).
        test_split: split `Trainer.evaluate` uses by default.
        pipeline: ``tfau.data`` pipeline name; None: the model's.
        pipeline_kwargs: overrides of the pipeline config (``input_size``...).
        batch_size: GLOBAL batch size (over all replicas and workers).
        epochs: number of epochs.
        steps_per_epoch: steps per epoch; None: training examples // batch_size.
        losses: output name -> `LossSpec` (or a list of them).
        optimizer: `OptimizerSpec`.
        seed: seed of init, data order, augmentation and dropout.
        strategy: one of `STRATEGIES`; ``"auto"``: multi_worker with TF_CONFIG, mirrored with
            several GPUs, else default.
        mixed_precision: None, ``"mixed_float16"`` or ``"mixed_bfloat16"``.
        jit_compile: XLA-compile the training step (needs ``deterministic=False``).
        deterministic: enable TF op determinism (bit-exact resumes); XLA cannot compile
            max-pool gradients deterministically.
        checkpoint_every: steps between checkpoints (and at each epoch end).
        keep_checkpoints: checkpoints kept.
        early_stopping_patience: epochs without validation F1 gain before stopping (AUNets).
        shuffle_buffer: shuffle buffer of the training pipeline.
        run_dir: output folder (checkpoints, logs, config, metrics).
        stages: None: one run of ``epochs`` epochs; else the papers' staged training, a list
            of `Stage` (or dicts of its fields: ``name``, ``epochs``, ``trainable``,
            ``learning_rate``, ``loss_weights``, ``model``, ``model_kwargs``, ``pipeline``,
            ``init``, ``aus``) run one after the other by `tfau.training.run.run_stages` in
            ``run_dir/<index>_<name>``; each stage's ``epochs`` replace ``epochs``, and its
            ``loss_weights`` must name outputs with a loss in ``losses``.
    """

    model: str
    dataset: str
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    aus: list[int | str] | None = None
    train_split: str = "part1+part2"
    val_split: str | None = None
    test_split: str = "part3"
    pipeline: str | None = None
    pipeline_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 8
    epochs: int = 1
    steps_per_epoch: int | None = None
    losses: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"au": LossSpec("sigmoid_cross_entropy")}
    )
    optimizer: OptimizerSpec = dataclasses.field(default_factory=OptimizerSpec)
    seed: int = 0
    strategy: str = "auto"
    mixed_precision: str | None = None
    jit_compile: bool = False
    deterministic: bool = True
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    early_stopping_patience: int | None = None
    shuffle_buffer: int = 4096
    run_dir: str | None = None
    stages: list[Stage] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.optimizer, dict):
            self.optimizer = OptimizerSpec(**self.optimizer)
        losses = {}
        for output, specs in self.losses.items():
            items = specs if isinstance(specs, list) else [specs]
            losses[output] = [s if isinstance(s, LossSpec) else _loss_spec(s) for s in items]
            if not isinstance(specs, list):
                losses[output] = losses[output][0]
        self.losses = losses
        for name in ("batch_size", "epochs", "checkpoint_every", "keep_checkpoints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if self.steps_per_epoch is not None and (
            not isinstance(self.steps_per_epoch, int) or self.steps_per_epoch < 1
        ):
            raise ValueError(
                "`steps_per_epoch` must be None or a positive integer. "
                f"Received: steps_per_epoch={self.steps_per_epoch!r}"
            )
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"`strategy` must be one of {STRATEGIES}. Received: strategy={self.strategy!r}"
            )
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"`mixed_precision` must be one of {MIXED_PRECISION}. "
                f"Received: mixed_precision={self.mixed_precision!r}"
            )
        if self.jit_compile and self.deterministic:
            raise ValueError(
                "`jit_compile=True` needs `deterministic=False`: XLA has no deterministic "
                "max-pool gradient (TensorFlow: 'MaxPool gradient ops do not yet have a "
                "deterministic XLA implementation'). Received: jit_compile=True, "
                "deterministic=True"
            )
        if self.optimizer.name not in ("sgd", "adam"):
            raise ValueError(
                f'`optimizer.name` must be "sgd" or "adam". Received: {self.optimizer.name!r}'
            )
        if self.optimizer.schedule not in SCHEDULES:
            raise ValueError(
                f"`optimizer.schedule` must be one of {SCHEDULES}. "
                f"Received: {self.optimizer.schedule!r}"
            )
        warmup = self.optimizer.warmup_epochs
        if not warmup >= 0 or (warmup and self.optimizer.schedule != "cosine"):
            raise ValueError(
                '`optimizer.warmup_epochs` must be >= 0, and above 0 only with the "cosine" '
                f"schedule. Received: warmup_epochs={warmup!r}, "
                f"schedule={self.optimizer.schedule!r}"
            )
        if self.aus is not None:
            self.aus = check_aus(self.aus)
        if self.stages is not None:
            self.stages = _stages(self.stages, self.losses)

    def loss_items(self) -> list[tuple[str, LossSpec]]:
        """``(output, spec)`` pairs of every loss term."""
        items = []
        for output, specs in self.losses.items():
            for spec in specs if isinstance(specs, list) else [specs]:
                items.append((output, spec))
        return items

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (dotted keys such as ``"optimizer.learning_rate"`` allowed)."""
        data = self.to_dict()
        for key, value in changes.items():
            target = data
            *parents, last = key.split(".")
            for parent in parents:
                if not isinstance(target.get(parent), dict):
                    raise KeyError(f"Unknown config key {key!r}.")
                target = target[parent]
            if target is data and last not in data:
                raise KeyError(f"Unknown config key {key!r}. Keys: {', '.join(sorted(data))}.")
            target[last] = value
        return TrainConfig.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; unknown keys raise a ``KeyError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise KeyError(
                f"Unknown TrainConfig keys {sorted(unknown)}. Known keys: {sorted(known)}."
            )
        return cls(**data)

    def save(self, path: str) -> None:
        """Writes the config as JSON."""
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)

    @classmethod
    def load(cls, path: str) -> TrainConfig:
        """Reads a JSON or (with PyYAML installed) YAML config file."""
        with open(path) as f:
            text = f.read()
        if os.path.splitext(path)[1] in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ImportError("YAML configs need PyYAML: pip install pyyaml") from None
            return cls.from_dict(yaml.safe_load(text))
        return cls.from_dict(json.loads(text))


def _stages(data: Any, losses: Mapping[str, Any]) -> list[Stage]:
    """The ``stages`` field as a list of `Stage`; errors name the bad entry."""
    if isinstance(data, str | bytes | Mapping) or not isinstance(data, list | tuple) or not data:
        raise ValueError(
            "`stages` must be None or a non-empty list of stages (dicts with keys "
            f"{', '.join(STAGE_FIELDS)}). Received: stages={data!r}"
        )
    stages = []
    for index, item in enumerate(data):
        if isinstance(item, Stage):
            stages.append(item)
            continue
        if not isinstance(item, Mapping):
            raise ValueError(
                f"`stages[{index}]` must be a Stage or a dict with keys "
                f"{', '.join(STAGE_FIELDS)}. Received: {item!r}"
            )
        unknown = sorted(set(item) - set(STAGE_FIELDS))
        missing = [key for key in ("name", "epochs") if key not in item]
        if unknown or missing:
            raise ValueError(
                f"`stages[{index}]` must have the keys name and epochs and may have "
                f"{', '.join(STAGE_FIELDS[2:])}. Received: {dict(item)!r} "
                f"(unknown: {unknown}, missing: {missing})"
            )
        try:
            stages.append(Stage(**item))
        except ValueError as error:
            raise ValueError(f"`stages[{index}]` ({item['name']!r}): {error}") from None
    names = [stage.name for stage in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"`stages` must have distinct names. Received: names={names}")
    for index, stage in enumerate(stages):
        for output in stage.loss_weights:
            if output not in losses:
                raise ValueError(
                    f"`stages[{index}]` ({stage.name!r}) sets the loss weight of output "
                    f"{output!r}, which has no loss. Outputs with losses: {sorted(losses)}."
                )
    return stages


def _loss_spec(data: Any) -> LossSpec:
    if isinstance(data, str):
        return LossSpec(data)
    if isinstance(data, dict):
        return LossSpec(**data)
    raise TypeError(f"A loss spec must be a name or a dict. Received: {data!r}")


#: Built-in configs (the experiments registry adds the papers' ones).
BUILTIN_CONFIGS: dict[str, dict[str, Any]] = {
    "synth_drml_tiny": {
        "model": "DRML",
        "model_kwargs": {
            "input_shape": [74, 74, 3],
            "num_aus": 12,
            "conv1_filters": 8,
            "conv_filters": 8,
            "fc_units": [32, 32],
        },
        "dataset": "synth_au/tiny",
        "pipeline_kwargs": {"input_size": 74, "source_size": 80},
        "batch_size": 4,
        "epochs": 2,
        "losses": {"au": {"name": "sigmoid_cross_entropy"}},
        "optimizer": {"name": "sgd", "learning_rate": 0.001, "momentum": 0.9},
        "checkpoint_every": 2,
    },
}


def get_config(name_or_path: str) -> TrainConfig:
    """A built-in config by name, or a JSON/YAML file.

    Args:
        name_or_path: a `BUILTIN_CONFIGS` name or a path.

    Raises:
        KeyError: neither a file nor a known name.
    """
    if os.path.exists(name_or_path):
        return TrainConfig.load(name_or_path)
    if name_or_path in BUILTIN_CONFIGS:
        return TrainConfig.from_dict(json.loads(json.dumps(BUILTIN_CONFIGS[name_or_path])))
    raise KeyError(
        f"No config file or built-in config named {name_or_path!r}. "
        f"Built-in configs: {', '.join(sorted(BUILTIN_CONFIGS))}."
    )
