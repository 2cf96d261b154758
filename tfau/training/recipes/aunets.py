"""AUNets' recipes: HydraNet's heads one at a time, and the encoder's domain adaptation.

- HydraNet (Sec. 3.2.1): one head per AU grown on the frozen shared encoder, each trained
  alone. `hydranet_stages` is the stage list (one stage per AU: the first builds the HydraNet
  with that AU's head, each later one grows the next head, hand-over ``"hydranet_head"``, and
  trains it on the labels of the heads so far), run from a config (experiment
  ``aunets_bp4d_hydranet``) or by `train_hydranet_heads`.
- Domain adaptation (Sec. 3.2, 4.1.3): a VGG-16 classifier trained on another labelled face
  task ("EmoNet", `pretrain_vgg_classifier`) whose encoder then starts the AU network
  (`tfau.training.recipes.vgg.transfer_vgg_encoder`): hand-over
  ``"vgg_classifier_pretraining"`` (on the run's own training faces, e.g. SynthAU's camera
  views; experiment ``aunets_synth_domain``) or `train_aunets_domain_adapted` (any batches).

Example:
    >>> model, _ = train_hydranet_heads(config, [1, 2, 4], run_dir="runs")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tfau.training.building import build_model
from tfau.training.config import Stage, TrainConfig
from tfau.training.recipes.vgg import transfer_vgg_encoder
from tfau.training.run import HandoverContext, register_handover, run_stages, run_training
from tfau.training.strategy import make_strategy


def hydranet_stages(
    aus: Sequence[int | str], epochs: int, *, existing: Sequence[int | str] = ()
) -> list[Stage]:
    """HydraNet's stages: one per AU of ``aus``, training that AU's new head alone.

    Stage ``au<label>`` trains module ``au<label>`` (the head) on the AUs of every head so
    far; the first builds the HydraNet (unless ``existing`` heads are grown on), each later
    one grows its head (hand-over ``"hydranet_head"``).

    Args:
        aus: AU labels, in the order the heads are grown.
        epochs: epochs per head.
        existing: AUs of the heads of the HydraNet the stages grow on (none: built anew).

    Returns:
        The stages.

    Example:
        >>> [stage.name for stage in hydranet_stages([1, 2], 3)]
        ['au1', 'au2']

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", Sec. 3.2.1
        ("learning separate weights at the upper layers sequentially for each action unit").
    """
    labels = [str(au) for au in aus]
    heads = [str(au) for au in existing]
    if not labels or len(set(labels + heads)) != len(labels) + len(heads):
        raise ValueError(
            f"`aus` must be distinct AU labels without a head yet. Received: aus={list(aus)!r}, "
            f"existing heads: {heads}"
        )
    stages = []
    grown = list(existing)
    for au in aus:
        init = {"name": "hydranet_head", "au": au} if grown else None
        grown.append(au)
        stages.append(Stage(f"au{au}", epochs, trainable=(f"au{au}",), init=init, aus=tuple(grown)))
    return stages


@register_handover("hydranet_head")
def grow_hydranet_head(context: HandoverContext, au: int | str) -> keras.Model:
    """Hand-over ``"hydranet_head"``: the previous stage's HydraNet with a new head for ``au``,
    seeded by the number of heads so far, in the run's dtype policy and scope."""
    from tfau.models import add_hydranet_head
    from tfau.models.aunets import hydranet_aus

    previous = context.previous_model()
    keras.utils.set_random_seed(context.config.seed + len(hydranet_aus(previous)))
    with context.scope():
        return add_hydranet_head(previous, au)


def train_hydranet_heads(
    config: TrainConfig,
    aus: Sequence[int | str],
    *,
    model: keras.Model | None = None,
    data_dir: str | None = None,
    run_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str = "auto",
) -> tuple[keras.Model, dict[str, list[dict[str, Any]]]]:
    """Grows a HydraNet one head per AU (`hydranet_stages`) through `run_stages`.

    For each AU of ``aus`` in turn: a head is added, every other layer (encoder and earlier
    heads) is frozen, and ``config.epochs`` epochs train the new head on the labels of the
    heads so far (the earlier heads are frozen, so only the new AU's loss moves weights).
    Folders ``run_dir/<index>_au<label>``, numbered on from ``model``'s heads.

    Args:
        config: a HydraNet config (``model="HydraNet"``, its kwargs without ``aus`` /
            ``num_aus``).
        aus: AU labels, in the order the heads are grown.
        model: a HydraNet to grow (its existing heads stay frozen); None: built from
            ``config`` with the first AU's head.
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
    """
    from tfau.models.aunets import hydranet_aus

    existing = [] if model is None else hydranet_aus(model)
    model, results = run_stages(
        config,
        hydranet_stages(aus, config.epochs, existing=existing),
        model=model,
        data_dir=data_dir,
        run_dir=run_dir,
        strategy=strategy,
        log=log,
        verbose=verbose,
        first_index=len(existing) + 1,
    )
    return model, {str(au): result["history"] for au, result in zip(aus, results, strict=True)}


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


def _classifier_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The pretrained classifier's shape arguments, from the AU network's (``config``)."""
    kwargs = config.model_kwargs
    input_size = kwargs.get("input_size", 224)
    if not isinstance(input_size, int):
        input_size = int(input_size[0])
    return {
        "input_size": input_size,
        "width": kwargs.get("width", 1.0),
        "fc_units": kwargs.get("fc_units", 4096),
        "dropout": kwargs.get("dropout", 0.5),
    }


@register_handover("vgg_classifier_pretraining")
def start_from_pretrained_classifier(
    context: HandoverContext,
    num_classes: int,
    target: str = "view",
    epochs: int = 1,
    learning_rate: float = 1e-4,
    include_fc: bool = True,
    pipeline: str = "AUNetsViewClassifier",
) -> keras.Model:
    """Hand-over ``"vgg_classifier_pretraining"``: `pretrain_vgg_classifier` on the run's
    training faces (``pipeline``'s ``target`` labels, the config's batch size and seed), then
    the stage's network with that encoder (`transfer_vgg_encoder`).

    The pretraining runs again when a killed run resumes this stage (its weights are then
    replaced by the stage's checkpoint).
    """
    import tfau.data

    config = context.config
    shape = _classifier_kwargs(config)
    batches = tfau.data.get_pipeline(pipeline, input_size=shape["input_size"])(
        context.data.train, training=True, batch_size=config.batch_size, seed=config.seed
    )
    pretrained, _ = pretrain_vgg_classifier(
        batches,
        num_classes,
        target=target,
        epochs=epochs,
        learning_rate=learning_rate,
        seed=config.seed,
        **shape,
    )
    model = context.build()
    transfer_vgg_encoder(pretrained, model, include_fc=include_fc)
    return model


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
    pretrained, pretrain_history = pretrain_vgg_classifier(
        pretrain_batches,
        num_classes,
        target=target,
        epochs=pretrain_epochs,
        learning_rate=pretrain_learning_rate,
        seed=config.seed,
        **_classifier_kwargs(config),
    )
    strategy = make_strategy(config.strategy)
    model = build_model(config, data_dir=data_dir, strategy=strategy)
    transferred = transfer_vgg_encoder(pretrained, model, include_fc=include_fc)
    (result,) = run_training(
        config,
        model=model,
        data_dir=data_dir,
        run_dir=run_dir,
        strategy=strategy,
        log=log,
        verbose=verbose,
    )
    return {
        "pretrained": pretrained,
        "model": model,
        "transferred": transferred,
        "pretrain_history": pretrain_history,
        "history": result["history"],
    }
