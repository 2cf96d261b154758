"""The papers' 3-fold subject-exclusive protocol, done right: validation subjects, seeds, tables.

Fold ``partK`` tests on part K of the standard partition and trains on the two other parts
(folds are named by their test part, datasets.md). A validation set of subjects is held out of
the TRAINING parts only (never the test part) and chooses the epoch (best validation mean
F1-frame); the test part is evaluated once, with the chosen weights.

Validation subjects (`make_folds`): for each training part, its subjects present in the
dataset are sorted and permuted by ``numpy.random.default_rng([seed, fold_number, part_number])``;
the first ``round(validation_fraction * n)`` are held out. If that holds out nobody (very small
datasets) one subject of the larger training part is held out; at least one training subject
must remain. ``validation_fraction=0`` disables model selection (the last epoch is used).

`run_cv` trains every (seed, fold) with Keras ``model.fit`` on tfau's losses, optimizers and
pipelines (a `TrainConfig` in), and writes::

    <run_dir>/config.json
    <run_dir>/seed<S>/<fold>/           weights of the chosen epoch (model.weights.h5), history
    <run_dir>/results/                  per_fold.csv, summary.csv, results.md, f1_vs_paper.png

Example:
    >>> from tfau.training.config import get_config
    >>> folds = run_cv(get_config("synth_drml_tiny"), "/tmp/cv", data_dir="/tmp/tfds")
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfau.training.config import TrainConfig
from tfau.training.paper_results import PaperResult
from tfau.training.results import FoldResult, evaluate_predictions, write_results

DEFAULT_VALIDATION_FRACTION = 0.2


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold of the subject-exclusive protocol.

    Args:
        name: the test part (``"part1"``...), the fold's name.
        test_split: TFDS split of the test part.
        train_split: TFDS split of the two training parts (``"part2+part3"``).
        train_subjects: subjects trained on (training parts minus validation subjects).
        validation_subjects: subjects held out of the training parts for model selection.
    """

    name: str
    test_split: str
    train_split: str
    train_subjects: tuple[str, ...]
    validation_subjects: tuple[str, ...]


def dataset_parts(dataset: str, data_dir: str | None = None) -> dict[str, tuple[str, ...]]:
    """The standard parts of a tfau TFDS dataset and the subjects each holds.

    Read from the builder's ``info.metadata["parts"]``; when the builder config lists its
    subjects (SynthAU), only those are kept.

    Args:
        dataset: TFDS name and config, e.g. ``"bp4d/aligned200"`` or ``"synth_au/tiny"``.
        data_dir: TFDS data directory.

    Returns:
        ``{"part1": subjects, "part2": ..., "part3": ...}``.
    """
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401  (registers the builders)

    builder = tfds.builder(dataset, data_dir=data_dir)
    metadata = builder.info.metadata or {}
    if "parts" not in metadata:
        raise ValueError(
            f"Dataset {dataset!r} has no standard parts in info.metadata['parts'] "
            f"(found metadata keys {sorted(metadata)}): build it with tfau's builders."
        )
    present = getattr(builder.builder_config, "subjects", None)
    parts = {}
    for part, subjects in sorted(metadata["parts"].items()):
        parts[part] = tuple(s for s in subjects if present is None or s in present)
    return parts


def make_folds(
    parts: Mapping[str, Sequence[str]],
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    seed: int = 0,
    folds: Sequence[str] | None = None,
) -> list[Fold]:
    """The folds of the protocol, with their validation subjects (see the module docstring).

    Args:
        parts: part name -> subjects (`dataset_parts`).
        validation_fraction: fraction of each training part's subjects held out, in [0, 1).
        seed: chooses the validation subjects.
        folds: test parts to run (default: every part).

    Returns:
        One `Fold` per test part, in order.

    Example:
        >>> parts = {"part1": ["A", "B"], "part2": ["C", "D"], "part3": ["E"]}
        >>> fold = make_folds(parts, 0.5)[2]
        >>> fold.name, fold.train_split, len(fold.validation_subjects)
        ('part3', 'part1+part2', 2)
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(
            "`validation_fraction` must be in [0, 1). "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    names = sorted(parts)
    if len(names) < 2:
        raise ValueError(f"Cross-validation needs at least 2 parts. Received: {names}")
    wanted = names if folds is None else list(folds)
    unknown = [f for f in wanted if f not in parts]
    if unknown:
        raise ValueError(f"Unknown folds {unknown}: folds are named by their test part {names}.")
    result = []
    for test in wanted:
        fold_number = names.index(test)
        train_parts = [p for p in names if p != test]
        held: list[str] = []
        kept: list[str] = []
        permuted = {}
        for part in train_parts:
            subjects = sorted(parts[part])
            rng = np.random.default_rng([seed, fold_number, names.index(part)])
            permuted[part] = [subjects[i] for i in rng.permutation(len(subjects))]
            count = round(validation_fraction * len(subjects))
            held += permuted[part][:count]
            kept += permuted[part][count:]
        if validation_fraction > 0 and not held:
            largest = max(train_parts, key=lambda p: (len(permuted[p]), p))
            if permuted[largest]:
                held.append(permuted[largest][0])
                kept.remove(permuted[largest][0])
        if not kept:
            raise ValueError(
                f"Fold {test!r}: holding out {sorted(held)} leaves no training subject; "
                "lower `validation_fraction` or use more subjects."
            )
        result.append(
            Fold(
                name=test,
                test_split=test,
                train_split="+".join(train_parts),
                train_subjects=tuple(sorted(kept)),
                validation_subjects=tuple(sorted(held)),
            )
        )
    return result


def filter_subjects(dataset: Any, subjects: Sequence[str]) -> Any:
    """Keeps the examples whose ``subject`` feature is one of ``subjects`` (a tf.data filter).

    Example:
        >>> val = filter_subjects(load_split("bp4d/aligned200", "part1+part2"), ["F001"])
    """
    import tensorflow as tf

    if not subjects:
        raise ValueError("`subjects` must name at least one subject. Received: []")
    table = tf.constant(list(subjects))

    def keep(example: Mapping[str, Any]) -> Any:
        return tf.reduce_any(tf.equal(example["subject"], table))

    return dataset.filter(keep)


def _num_aus(dataset: str, data_dir: str | None) -> tuple[int, ...]:
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401

    info = tfds.builder(dataset, data_dir=data_dir).info
    aus = (info.metadata or {}).get("standard_aus")
    if aus is None:
        raise ValueError(f"Dataset {dataset!r} has no info.metadata['standard_aus'].")
    return tuple(int(a) for a in aus)


def _predict(model: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    labels, probs = [], []
    for inputs, targets in dataset:
        outputs = model(inputs, training=False)
        probs.append(np.asarray(outputs["au"], np.float32))
        labels.append(np.asarray(targets["au"], np.float32))
    if not labels:
        raise ValueError("The evaluation split holds no example.")
    return np.concatenate(labels), np.concatenate(probs)


def _compile_losses(config: TrainConfig, labels: np.ndarray | None) -> dict[str, Any]:
    from keras import ops

    from tfau.training.losses import make_loss

    losses = {}
    for output, specs in config.losses.items():
        items = specs if isinstance(specs, list) else [specs]
        terms = [(s.weight, make_loss(s.name, s.kwargs, labels)) for s in items]

        def total(y_true: Any, y_pred: Any, terms: Any = terms) -> Any:
            value = 0.0
            for weight, fn in terms:
                value = value + weight * ops.mean(fn(y_true, y_pred))
            return value

        losses[output] = total
    return losses


def fit_fold(
    config: TrainConfig,
    fold: Fold,
    seed: int,
    run_dir: str,
    data_dir: str | None = None,
    verbose: int = 0,
) -> FoldResult:
    """Trains one (seed, fold) with ``model.fit``, selects the epoch on validation, tests.

    Args:
        config: the run's `TrainConfig` (model, pipeline, losses, optimizer, epochs...).
        fold: the `Fold` (its splits and subjects).
        seed: seed of initialisation, data order and augmentation.
        run_dir: folder of this (seed, fold): chosen weights and the epoch history.
        data_dir: TFDS data directory.
        verbose: Keras verbosity.

    Returns:
        The test part's `FoldResult` at the chosen epoch.
    """
    import keras

    import tfau.data
    import tfau.models
    from tfau.metrics import f1_frame
    from tfau.training.optimizers import make_optimizer

    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    aus = _num_aus(config.dataset, data_dir)
    pipeline = tfau.data.get_pipeline(config.pipeline or config.model, **config.pipeline_kwargs)
    training_parts = tfau.data.load_split(config.dataset, fold.train_split, data_dir=data_dir)
    train = filter_subjects(training_parts, fold.train_subjects)
    label_table = tfau.data.collect_labels(train)
    labels = np.asarray(label_table.labels)
    mean = None
    if pipeline.config.normalization == "mean":
        mean = tfau.data.image_mean(train)
    common = {"mean": mean, "batch_size": config.batch_size}
    steps = config.steps_per_epoch or max(1, len(labels) // config.batch_size)
    train_ds = pipeline(
        train,
        training=True,
        seed=seed,
        shuffle_buffer=config.shuffle_buffer,
        repeat=True,
        **common,
    )
    val_ds = None
    if fold.validation_subjects:
        val_ds = pipeline(
            filter_subjects(training_parts, fold.validation_subjects), training=False, **common
        )
    test_ds = pipeline(
        tfau.data.load_split(config.dataset, fold.test_split, data_dir=data_dir),
        training=False,
        **common,
    )

    model_kwargs = {"num_aus": len(aus), **config.model_kwargs}
    if model_kwargs["num_aus"] != len(aus):
        raise ValueError(
            f"model_kwargs num_aus={model_kwargs['num_aus']} but {config.dataset} has "
            f"{len(aus)} AUs {aus}."
        )
    model = tfau.models.get(config.model)(**model_kwargs)
    model.compile(
        optimizer=make_optimizer(config.optimizer, steps),
        loss=_compile_losses(config, labels),
        jit_compile=config.jit_compile,
    )
    history = []
    best = (-1.0, None, None)
    for epoch in range(1, config.epochs + 1):
        fit = model.fit(train_ds, epochs=1, steps_per_epoch=steps, verbose=verbose)
        entry = {"epoch": epoch, "loss": float(fit.history["loss"][-1])}
        if not np.isfinite(entry["loss"]):
            raise FloatingPointError(
                f"Fold {fold.name}, seed {seed}: loss {entry['loss']} at epoch {epoch}."
            )
        if val_ds is not None:
            y_val, p_val = _predict(model, val_ds)
            entry["val_f1"] = float(100.0 * np.mean(f1_frame(y_val, p_val)))
            if entry["val_f1"] > best[0]:
                best = (entry["val_f1"], epoch, [w.copy() for w in model.get_weights()])
        history.append(entry)
    if val_ds is not None:
        model.set_weights(best[2])
        best_epoch, val_f1 = best[1], best[0]
    else:
        best_epoch, val_f1 = config.epochs, None
    model.save_weights(os.path.join(run_dir, "model.weights.h5"))
    with open(os.path.join(run_dir, "history.json"), "w") as f:
        json.dump({"history": history, "best_epoch": best_epoch, "fold": fold.name}, f, indent=2)
    y_test, p_test = _predict(model, test_ds)
    return evaluate_predictions(
        y_test,
        p_test,
        aus,
        fold=fold.name,
        seed=seed,
        best_epoch=best_epoch,
        validation_f1=val_f1,
    )


def run_cv(
    config: TrainConfig,
    run_dir: str,
    *,
    folds: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    data_dir: str | None = None,
    paper: PaperResult | None = None,
    title: str | None = None,
    verbose: int = 0,
) -> list[FoldResult]:
    """Runs the 3-fold subject-exclusive protocol for every seed and writes the results folder.

    Args:
        config: the `TrainConfig` (its split fields are replaced fold by fold).
        run_dir: output folder.
        folds: test parts to run (default: all three).
        seeds: seeds; each seed also re-draws the validation subjects.
        validation_fraction: fraction of each training part held out for model selection.
        data_dir: TFDS data directory.
        paper: the published result printed beside tfau's.
        title: heading of the tables and the chart (default: the model and dataset).
        verbose: Keras verbosity.

    Returns:
        Every (seed, fold) `FoldResult`, seeds outer.

    Example:
        >>> run_cv(config, "/tmp/cv", seeds=(0, 1), paper=paper_result("drml", "bp4d"))
    """
    if not seeds:
        raise ValueError("`seeds` must hold at least one seed. Received: ()")
    os.makedirs(run_dir, exist_ok=True)
    parts = dataset_parts(config.dataset, data_dir)
    config.save(os.path.join(run_dir, "config.json"))
    results = []
    protocol: dict[str, Any] = {"validation_fraction": validation_fraction, "runs": []}
    for seed in seeds:
        for fold in make_folds(parts, validation_fraction, seed, folds):
            start = time.monotonic()
            fold_config = config.replace(
                train_split=fold.train_split, test_split=fold.test_split, seed=int(seed)
            )
            result = fit_fold(
                fold_config,
                fold,
                int(seed),
                os.path.join(run_dir, f"seed{seed}", fold.name),
                data_dir=data_dir,
                verbose=verbose,
            )
            results.append(result)
            protocol["runs"].append(
                {
                    **dataclasses.asdict(fold),
                    "seed": int(seed),
                    "best_epoch": result.best_epoch,
                    "seconds": round(time.monotonic() - start, 2),
                }
            )
    with open(os.path.join(run_dir, "protocol.json"), "w") as f:
        json.dump(protocol, f, indent=2)
    write_results(
        os.path.join(run_dir, "results"),
        results,
        paper,
        title=title or f"{config.model} on {config.dataset}",
    )
    return results
