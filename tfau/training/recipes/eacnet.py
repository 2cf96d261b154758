"""EAC-Net's recipe: FVGG -> E-Net -> EAC-Net, and the DISFA protocol.

- Staged training (Sec. IV-B): FVGG, then E-Net started from the trained FVGG (every layer:
  E-Net adds only weightless enhancing layers; hand-over ``"vgg_encoder"`` with the head),
  then EAC-Net on the trained E-Net (its VGG layers, ``EACNet(enet=...)``; hand-over
  ``"eacnet_on_enet"``), its C-Net and fused head new. `eacnet_stages` is the stage list,
  run by `tfau.training.run.run_stages` from a config (experiment ``eacnet_bp4d_staged``)
  or by `train_eacnet_staged`.
- DISFA protocol: the fc 2048 features of the BP4D network (`extract_features`) and a per-AU
  linear regression fit on the DISFA training folds (`fit_linear_au_regression`,
  `linear_transfer_fold`).

Example:
    >>> models = train_eacnet_staged(config, run_dir="runs/eacnet")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfau.models.eacnet import HEAD_FC_LAYER
from tfau.training.config import Stage, TrainConfig
from tfau.training.run import HandoverContext, register_handover, run_stages


def eacnet_stages(
    epochs: int, *, fvgg_epochs: int | None = None, enet_epochs: int | None = None
) -> list[Stage]:
    """EAC-Net's stages: FVGG, E-Net from FVGG, EAC-Net on the trained E-Net.

    FVGG keeps its builder's ``frozen_groups`` (the paper's 3) whatever the config gives
    E-Net and EAC-Net, and reads its own pipeline (no landmarks).

    Args:
        epochs: EAC-Net epochs.
        fvgg_epochs: FVGG epochs; None: ``epochs``; 0 leaves FVGG out (E-Net then starts
            from the config's VGG weights or at random).
        enet_epochs: E-Net epochs; None: ``epochs``.

    Returns:
        The stages ``fvgg`` (unless left out), ``enet``, ``eacnet``.

    Example:
        >>> [stage.name for stage in eacnet_stages(10)]
        ['fvgg', 'enet', 'eacnet']

    Reference:
        Li et al., "EAC-Net", FG 2017, Sec. IV-B ("First, VGG fine-tuned net is trained as
        the baseline for our proposed E-Net. EAC-Net training is based on pretrained E-Net
        with new C-Net layers").
    """
    import tfau.models

    for name, value, least in (("fvgg_epochs", fvgg_epochs, 0), ("enet_epochs", enet_epochs, 1)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < least
        ):
            raise ValueError(
                f"`{name}` must be None or an integer >= {least}. Received: {name}={value!r}"
            )
    fvgg_epochs = epochs if fvgg_epochs is None else fvgg_epochs
    stages = []
    if fvgg_epochs:
        frozen = inspect.signature(tfau.models.get("FVGG")).parameters["frozen_groups"].default
        stages.append(
            Stage(
                "fvgg",
                fvgg_epochs,
                model="FVGG",
                model_kwargs={"frozen_groups": frozen},
                pipeline="FVGG",
            )
        )
    enet_init = {"name": "vgg_encoder", "include_head": True} if fvgg_epochs else None
    stages.append(
        Stage("enet", epochs if enet_epochs is None else enet_epochs, model="ENet", init=enet_init)
    )
    stages.append(Stage("eacnet", epochs, model="EACNet", init="eacnet_on_enet"))
    return stages


@register_handover("eacnet_on_enet")
def start_from_enet(context: HandoverContext) -> keras.Model:
    """Hand-over ``"eacnet_on_enet"``: the stage's EAC-Net built on the previous stage's
    trained E-Net (``EACNet(enet=...)``: its VGG layers copied, the C-Net new)."""
    return context.build(enet=context.previous_model())


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
    """EAC-Net's three trainings (`eacnet_stages`) through `run_stages`.

    ``config`` is the EAC-Net run (``model="EACNet"``, its kwargs, losses, optimizer); FVGG
    and E-Net use the same data, losses and optimizer with the config's kwargs their
    builders take. Folders: ``run_dir/1_fvgg``, ``2_enet``, ``3_eacnet``.

    Args:
        config: the EAC-Net config.
        fvgg_epochs: FVGG epochs; None: ``config.epochs``; 0 skips FVGG.
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
    """
    stages = eacnet_stages(config.epochs, fvgg_epochs=fvgg_epochs, enet_epochs=enet_epochs)
    _, results = run_stages(
        config,
        stages,
        data_dir=data_dir,
        run_dir=run_dir,
        pipeline=pipeline,
        strategy=strategy,
        log=log,
        verbose=verbose,
    )
    models = {result["stage"]: result["trainer"].model for result in results}
    return {
        "fvgg": models.get("fvgg"),
        "enet": models["enet"],
        "eacnet": models["eacnet"],
        "histories": {result["stage"]: result["history"] for result in results},
    }


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
    name = layer or f"{model.name}_{HEAD_FC_LAYER}"
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
    import tfau.models
    from tfau.metrics import accuracy, f1_frame

    if pipeline is None:
        pipeline = tfau.data.get_pipeline(tfau.models.from_keras_name(model.name).name)
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
