"""What a run trains and validates on: examples, not split names (`RunData`).

A `tfau.training.Trainer` takes a `RunData` and computes every training statistic from its
``train`` examples only: the image mean of networks that subtract it (DRML), the AU
occurrence rates behind the ``"auto"`` loss weights, the number of steps per epoch, and the
example keys that name a batch when a loss turns NaN. The 3-fold protocol builds one per fold
with the fold's training subjects in ``train`` and its validation subjects in ``validation``,
so no statistic of a validation subject reaches training (before, the trainer read the whole
training split and a pipeline wrapper dropped the validation subjects only from the batches).

Example:
    >>> data = RunData.from_splits("bp4d/aligned200", "part1+part2", "part1+part2",
    ...                            train_subjects=["F001", "F002"], validation_subjects=["M001"])
    >>> data.num_train, data.image_mean  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfau.training.config import TrainConfig


def filter_subjects(dataset: tf.data.Dataset, subjects: Sequence[str]) -> tf.data.Dataset:
    """Keeps the examples whose ``subject`` feature is one of ``subjects`` (a tf.data filter).

    Example:
        >>> val = filter_subjects(load_split("bp4d/aligned200", "part1+part2"), ["F001"])
    """
    if not subjects:
        raise ValueError("`subjects` must name at least one subject. Received: []")
    table = tf.constant(list(subjects))

    def keep(example: Mapping[str, Any]) -> Any:
        return tf.reduce_any(tf.equal(example["subject"], table))

    return dataset.filter(keep)


def dataset_aus(dataset: str, data_dir: str | None = None) -> tuple[int, ...]:
    """The AUs of a tfau TFDS dataset's label columns (its ``standard_aus`` metadata).

    Example:
        >>> dataset_aus("disfa/aligned200")  # doctest: +SKIP
        (1, 2, 4, 6, 9, 12, 25, 26)
    """
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401  (registers the builders)

    aus = (tfds.builder(dataset, data_dir=data_dir).info.metadata or {}).get("standard_aus")
    if aus is None:
        raise ValueError(f"Dataset {dataset!r} has no info.metadata['standard_aus'].")
    return tuple(int(str(a).removeprefix("AU")) for a in aus)


def au_columns(dataset: str, aus: Sequence[int | str], data_dir: str | None = None) -> list[int]:
    """Label columns of ``aus`` in a TFDS dataset, in the order of ``aus``.

    Raises:
        ValueError: an AU the dataset does not label.

    Example:
        >>> au_columns("bp4d/aligned200", [4, 12])  # doctest: +SKIP
        [2, 6]
    """
    standard = [str(a) for a in dataset_aus(dataset, data_dir)]
    columns = []
    for au in aus:
        label = str(au).removeprefix("AU")
        if label not in standard:
            raise ValueError(f"AU {au!r} is not an AU of {dataset!r}; its AUs: {standard}.")
        columns.append(standard.index(label))
    return columns


def select_aus(
    pipeline: Callable[..., tf.data.Dataset], columns: Sequence[int]
) -> Callable[..., tf.data.Dataset]:
    """``pipeline`` keeping only the label columns ``columns`` (in that order).

    Example:
        >>> pipeline = select_aus(tfau.data.get_pipeline("HydraNet"), [0, 2])  # doctest: +SKIP
    """
    indices = [int(i) for i in columns]

    def selected(dataset: tf.data.Dataset, **kwargs: Any) -> tf.data.Dataset:
        return pipeline(dataset, **kwargs, au_indices=indices)

    selected.config = getattr(pipeline, "config", None)  # type: ignore[attr-defined]
    selected.__name__ = f"{getattr(pipeline, '__name__', 'pipeline')}_aus"
    return selected


def run_pipeline(
    config: TrainConfig,
    data_dir: str | None = None,
    pipeline: Callable[..., tf.data.Dataset] | None = None,
) -> tuple[Callable[..., tf.data.Dataset], list[int] | None]:
    """The pipeline a run of ``config`` feeds its network, and the label columns it keeps.

    Args:
        config: the run's `tfau.training.TrainConfig`.
        data_dir: TFDS data directory (for ``config.aus``' columns).
        pipeline: the pipeline to use; None: ``tfau.data.get_pipeline(config.pipeline or
            config.model, **config.pipeline_kwargs)``.

    Returns:
        ``(pipeline, columns)``: with ``config.aus``, the pipeline keeps only their label
        columns (`select_aus`) and ``columns`` lists them; else ``columns`` is None.

    Example:
        >>> pipeline, columns = run_pipeline(hydranet_config)  # doctest: +SKIP
    """
    if pipeline is None:
        import tfau.data

        pipeline = tfau.data.get_pipeline(config.pipeline or config.model, **config.pipeline_kwargs)
    if config.aus is None:
        return pipeline, None
    columns = au_columns(config.dataset, config.aus, data_dir)
    return select_aus(pipeline, columns), columns


@dataclasses.dataclass(eq=False)
class RunData:
    """The examples of one run: what it trains on and what selects its model.

    Args:
        dataset: the TFDS name (``"bp4d/aligned200"``): its AUs and face size.
        train: the training examples (TFDS features, images not decoded).
        validation: the examples scored after every epoch for model selection, or None.
        data_dir: TFDS data directory (for the test splits and the dataset's metadata).
        description: what ``train`` and ``validation`` hold, for logs and errors.
    """

    dataset: str
    train: tf.data.Dataset
    validation: tf.data.Dataset | None = None
    data_dir: str | None = None
    description: str = ""

    @classmethod
    def from_splits(
        cls,
        dataset: str,
        train_split: str,
        validation_split: str | None = None,
        *,
        data_dir: str | None = None,
        train_subjects: Sequence[str] | None = None,
        validation_subjects: Sequence[str] | None = None,
    ) -> RunData:
        """Reads the splits, keeping only the given subjects of each (all when None).

        Args:
            dataset: TFDS name.
            train_split: training split (``"part1+part2"``).
            validation_split: validation split, or None for no validation.
            data_dir: TFDS data directory.
            train_subjects: keep only these subjects in ``train``.
            validation_subjects: keep only these subjects in ``validation``.

        Raises:
            ValueError: a subject in both lists.
        """
        import tfau.data

        both = set(train_subjects or ()) & set(validation_subjects or ())
        if both:
            raise ValueError(
                f"Subjects cannot train and validate the same run. In both: {sorted(both)}"
            )
        train = tfau.data.load_split(dataset, train_split, data_dir)
        description = train_split
        if train_subjects is not None:
            train = filter_subjects(train, train_subjects)
            description += f" ({len(train_subjects)} subjects)"
        validation = None
        if validation_split is not None:
            validation = tfau.data.load_split(dataset, validation_split, data_dir)
            description += f", validation {validation_split}"
            if validation_subjects is not None:
                validation = filter_subjects(validation, validation_subjects)
                description += f" ({len(validation_subjects)} subjects)"
        return cls(dataset, train, validation, data_dir, description)

    @functools.cached_property
    def _labels(self) -> Any:
        import tfau.data

        return tfau.data.collect_labels(self.train)

    @property
    def labels(self) -> np.ndarray:
        """``(num_train, num_aus)`` training labels (1, 0, -1 unknown), in read order."""
        return self._labels.labels

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        cardinality = int(self.train.cardinality())
        return cardinality if cardinality >= 0 else len(self.labels)

    @property
    def num_aus(self) -> int:
        """Width of the ``"au"`` labels."""
        return int(self.train.element_spec["au"].shape[-1])

    @functools.cached_property
    def image_mean(self) -> list[float]:
        """RGB mean (0-255) of the training faces (`tfau.data.image_mean`)."""
        import tfau.data

        return [float(m) for m in tfau.data.image_mean(self.train)]
