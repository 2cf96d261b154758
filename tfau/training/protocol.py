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

`run_cv` trains every (seed, fold) with `tfau.training.Trainer` (a `TrainConfig` in) and
writes::

    <run_dir>/config.json, protocol.json (folds, subjects, chosen epochs, times)
    <run_dir>/seed<S>/<fold>/           the trainer's run: checkpoints, logs, metrics.jsonl,
                                        best.weights.h5 (best validation mean F1),
                                        model.keras + model.json (the chosen model)
    <run_dir>/seed<S>/<fold>/<i>_<stage>/  instead, with ``config.stages``: one trainer run
                                        per stage (`tfau.training.run.run_stages`)
    <run_dir>/results/                  per_fold.csv, summary.csv, results.md, f1_vs_paper.png

Example:
    >>> from tfau.training.config import get_config
    >>> folds = run_cv(get_config("synth_drml_tiny"), "/tmp/cv", data_dir="/tmp/tfds")
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tfau.model_files import ModelInfo, save_trained_model
from tfau.training.config import TrainConfig
from tfau.training.paper_results import PaperResult
from tfau.training.progress import progress_label
from tfau.training.results import FoldResult, evaluate_predictions, write_results
from tfau.training.run_data import RunData

if TYPE_CHECKING:
    from tfau.training.trainer import Trainer

DEFAULT_VALIDATION_FRACTION = 0.2
#: The model each fold saves in its run folder (with its `ModelInfo` sidecar ``model.json``).
MODEL_FILE = "model.keras"


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


def _face_size(dataset: str, data_dir: str | None) -> int:
    """The side of ``dataset``'s stored faces."""
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401

    return int(tfds.builder(dataset, data_dir=data_dir).info.features["image"].shape[0])


def save_run_model(trainer: Trainer, path: str, data_dir: str | None = None) -> ModelInfo:
    """Saves a trainer's model as ``path`` (``.keras``) with its `ModelInfo` (``.json``).

    The AUs are the trainer's (`Trainer.aus`), the face size its dataset's, the mean and
    pipeline overrides the trainer's, so ``tfau export`` and ``tfau predict`` need nothing else.

    Args:
        trainer: a `tfau.training.Trainer` (after training).
        path: the ``.keras`` file to write.
        data_dir: TFDS data directory.

    Returns:
        The `ModelInfo` written beside ``path``.

    Example:
        >>> save_run_model(trainer, "runs/jaanet/model.keras")  # doctest: +SKIP
    """
    config = trainer.config
    return save_trained_model(
        trainer.model,
        path,
        model_name=config.model,
        aus=trainer.aus(),
        face_size=_face_size(config.dataset, data_dir),
        mean=trainer.mean,
        pipeline_kwargs=config.pipeline_kwargs,
    )


def fit_fold(
    config: TrainConfig,
    fold: Fold,
    seed: int,
    run_dir: str,
    data_dir: str | None = None,
    log: Any | None = None,
    verbose: int | str = "auto",
) -> FoldResult:
    """Trains one (seed, fold) with `tfau.training.Trainer`, picks the epoch, tests once.

    The trainer trains on ``fold.train_subjects`` and evaluates the validation subjects after
    every epoch (one `RunData`: the image mean, loss weights and steps come from the training
    subjects only); its best-validation weights (``best.weights.h5``) are
    restored before the test part is predicted. Without validation subjects the last epoch is
    tested. The chosen model is saved as ``run_dir/model.keras`` with its `ModelInfo`
    (``model.json``: AUs, face size, training mean), ready for ``tfau export`` and
    ``tfau predict``. A killed fold resumes from the trainer's checkpoints when run again.

    With ``config.stages`` (JAA-Net) the stages run one after the other in
    ``run_dir/<index>_<name>`` (`tfau.training.run.run_training`), every stage validating
    after each epoch; model selection applies to the LAST stage only: the test part sees the
    last stage's best-validation epoch (its ``best.weights.h5``), never an earlier stage's
    weights, since those lack the later stages' training (the paper reports the model after
    all stages). ``best_epoch`` counts the epochs of all stages (JAA-Net: 10 or 11 of 0-11).
    A killed staged fold resumes in its stage; finished stages return at once.

    Args:
        config: the run's `TrainConfig` (model, pipeline, losses, optimizer, epochs...).
        fold: the `Fold` (its splits and subjects).
        seed: seed of initialisation, data order and augmentation.
        run_dir: run folder of this (seed, fold): checkpoints, logs, metrics, weights.
        data_dir: TFDS data directory.
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch (its description names the fold and
            the stage), 2 one line per epoch, ``"auto"`` 1 (`tfau.training.progress`).

    Returns:
        The test part's `FoldResult` at the chosen epoch.
    """
    from tfau.training.run import run_training

    data = RunData.from_splits(
        config.dataset,
        fold.train_split,
        fold.train_split if fold.validation_subjects else None,
        data_dir=data_dir,
        train_subjects=fold.train_subjects,
        validation_subjects=fold.validation_subjects or None,
    )
    steps = config.steps_per_epoch
    if steps is None:
        steps = data.num_train // config.batch_size
        if steps < 1:
            raise ValueError(
                f"Fold {fold.name}: {data.num_train} training examples, fewer than one batch "
                f"of {config.batch_size}."
            )
    fold_config = config.replace(
        train_split=fold.train_split,
        test_split=fold.test_split,
        val_split=fold.train_split if fold.validation_subjects else None,
        seed=int(seed),
        steps_per_epoch=steps,
        run_dir=run_dir,
    )
    with progress_label(f"fold {fold.name}"):
        runs = run_training(
            fold_config,
            data=data,
            data_dir=data_dir,
            run_dir=run_dir,
            log=log,
            verbose=verbose,
        )
    # Epochs of the earlier stages (fewer than planned if one stopped early).
    offset = sum(len(run["history"]) for run in runs[:-1])
    trainer, history = runs[-1]["trainer"], runs[-1]["history"]
    best_epoch, val_f1 = None, None
    scored = [r for r in history if r.get("val_mean_f1") is not None]
    if scored:
        best = max(scored, key=lambda r: (r["val_mean_f1"], -r["epoch"]))
        best_epoch, val_f1 = offset + int(best["epoch"]), 100.0 * float(best["val_mean_f1"])
        trainer.model.load_weights(os.path.join(trainer.run_dir, "best.weights.h5"))
    elif history:
        best_epoch = offset + int(history[-1]["epoch"])
    if trainer.chief:
        save_run_model(trainer, os.path.join(run_dir, MODEL_FILE), data_dir=data_dir)
    labels, probabilities = trainer.predict_split(fold.test_split)
    return evaluate_predictions(
        labels,
        probabilities,
        trainer.aus(),
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
    log: Any | None = None,
    verbose: int | str = "auto",
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
        log: ``fn(line)`` receiving the progress lines; None: stdout.
        verbose: 0 silent, 1 a progress bar per epoch (its description names the seed when
            there are several, the fold and the stage), 2 one line per epoch, ``"auto"`` 1
            (`tfau.training.progress`).

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
            with progress_label(f"seed {seed}") if len(seeds) > 1 else contextlib.nullcontext():
                result = fit_fold(
                    config,
                    fold,
                    int(seed),
                    os.path.join(run_dir, f"seed{seed}", fold.name),
                    data_dir=data_dir,
                    log=log,
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
