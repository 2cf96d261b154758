"""Label statistics and training-set balancing of the papers, from one pass over the labels.

- `collect_labels`: one pass over a split's labels (and ids), no image decoded when the
  split was loaded with `tfau.data.load_split` (images stay encoded).
- `au_loss_weights`: JAA-Net's ``w_i`` or PAttNet's ``w_pos`` from training occurrence
  (``tfau.losses.jaanet_au_weights`` / ``positive_weights``), unknown labels (-1) masked.
- `eacnet_oversampling_counts` and `oversample`: EAC-Net's minor-AU oversampling, each frame
  with a minor AU repeated (picked) 4-7 times more often (paper section IV, Table II).
- `drml_video_sampling` and `apply_sampling`: DRML's per-video sampling, for each AU up to
  100 positive and 200 negative frames of each video (paper section 4.1); a frame's label is
  known only for the AUs it was sampled for (the Caffe loss ignores the others).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfau.losses import jaanet_au_weights, occurrence_rates, positive_weights

#: EAC-Net's minor BP4D AUs: the six whose rate Table II raises (0.15-0.24 -> 0.30-0.39).
EACNET_MINOR_AUS: tuple[int, ...] = (1, 2, 4, 15, 23, 24)
#: EAC-Net's Table II: BP4D occurrence rates of `tfau.aus.BP4D_AUS`, in order.
EACNET_TABLE2_ORIGINAL = (0.24, 0.18, 0.23, 0.44, 0.52, 0.58, 0.57, 0.43, 0.15, 0.36, 0.19, 0.16)
EACNET_TABLE2_BALANCED = (0.39, 0.32, 0.33, 0.45, 0.54, 0.60, 0.56, 0.49, 0.30, 0.50, 0.33, 0.30)
#: DRML: frames sampled per video and AU (BP4D; DISFA uses 800 / 1600).
DRML_POSITIVES_PER_VIDEO = 100
DRML_NEGATIVES_PER_VIDEO = 200


@dataclasses.dataclass(frozen=True)
class LabelTable:
    """The labels and ids of a split, in the split's (deterministic) read order.

    Attributes:
        labels: ``(num_examples, num_aus)`` int32, 1 / 0 / -1 unknown.
        keys: ``(num_examples,)`` str, `example_key` of each example (unique per frame).
        sequences: ``(num_examples,)`` str, the video of each example (with its view).
    """

    labels: np.ndarray
    keys: np.ndarray
    sequences: np.ndarray


def example_key(example: Mapping[str, Any]) -> tf.Tensor:
    """A string naming one frame: ``sequence/frame`` (``/view`` when there is a view)."""
    parts = [example["sequence"], tf.strings.as_string(example["frame"])]
    if "view" in example:
        parts.append(tf.strings.as_string(example["view"]))
    return tf.strings.join(parts, separator="/")


def _video_key(example: Mapping[str, Any]) -> tf.Tensor:
    if "view" in example:
        return tf.strings.join(
            [example["sequence"], tf.strings.as_string(example["view"])], separator="/"
        )
    return example["sequence"]


def collect_labels(
    dataset: tf.data.Dataset, label_key: str = "au", batch_size: int = 4096
) -> LabelTable:
    """Reads every example's labels and ids in one pass (images are not touched).

    Args:
        dataset: TFDS examples with ``label_key``, ``sequence`` and ``frame``.
        label_key: the label feature. Defaults to ``"au"``.
        batch_size: examples read per step. Defaults to 4096.

    Returns:
        A `LabelTable`.

    Example:
        >>> table = collect_labels(tfau.data.load_split("bp4d", "part1+part2"))
        >>> weights = au_loss_weights(table.labels, "jaanet")
    """
    spec = dataset.element_spec
    for key in (label_key, "sequence", "frame"):
        if key not in spec:
            raise ValueError(
                f"`collect_labels` needs features {label_key!r}, 'sequence' and 'frame'. "
                f"Received features: {sorted(spec)}"
            )
    ids = dataset.map(
        lambda ex: (tf.cast(ex[label_key], tf.int32), example_key(ex), _video_key(ex)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    ).batch(batch_size)
    labels, keys, sequences = [], [], []
    for batch_labels, batch_keys, batch_sequences in ids.as_numpy_iterator():
        labels.append(batch_labels)
        keys.append(batch_keys.astype(str))
        sequences.append(batch_sequences.astype(str))
    if not labels:
        raise ValueError("The dataset is empty: no labels to collect.")
    table = LabelTable(np.concatenate(labels), np.concatenate(keys), np.concatenate(sequences))
    if len(np.unique(table.keys)) != len(table.keys):
        raise ValueError("Two examples share a sequence/frame(/view) key; keys must be unique.")
    return table


def au_loss_weights(labels: Any, kind: str) -> np.ndarray:
    """Per-AU loss weights from training-split labels (unknown labels ignored).

    Args:
        labels: ``(num_examples, num_aus)`` labels 1 / 0 / -1 (e.g. ``LabelTable.labels``).
        kind: ``"jaanet"``: ``w_i = (1 / r_i) n / sum_j (1 / r_j)`` (JAA-Net eq. 6-7);
            ``"pattnet"``: ``w_pos = negatives / positives`` (PAttNet section 4).

    Returns:
        float32 ``(num_aus,)``.

    Example:
        >>> au_loss_weights([[1, 0], [0, 0], [0, 1], [0, -1]], "pattnet")
        array([3., 2.], dtype=float32)
    """
    if kind == "jaanet":
        return jaanet_au_weights(occurrence_rates(labels)).astype(np.float32)
    if kind == "pattnet":
        return positive_weights(labels).astype(np.float32)
    raise ValueError(f'`kind` must be "jaanet" or "pattnet". Received: kind={kind!r}')


def eacnet_oversampling_factors(
    rates: Sequence[float],
    aus: Sequence[int],
    minor_aus: Sequence[int] = EACNET_MINOR_AUS,
    low: int = 4,
    high: int = 7,
) -> dict[int, int]:
    """EAC-Net's picking-rate factor of each minor AU: from ``low`` to ``high`` by rarity.

    The paper raises the minor AUs' picking rates "by 4 to 7 times" without a per-AU table;
    tfau gives the most frequent minor AU ``low`` and the rarest ``high``, linearly in
    between on the occurrence rate, rounded.

    Args:
        rates: occurrence rate of each AU of ``aus`` in the training split.
        aus: the AU ids of the label columns.
        minor_aus: the AUs to oversample (those of ``aus`` only). Defaults to Table II's six.
        low: factor of the most frequent minor AU. Defaults to 4.
        high: factor of the rarest. Defaults to 7.

    Returns:
        ``{au: factor}`` for the minor AUs present in ``aus``.

    Example:
        >>> from tfau.aus import BP4D_AUS
        >>> eacnet_oversampling_factors(EACNET_TABLE2_ORIGINAL, BP4D_AUS)
        {1: 4, 2: 6, 4: 4, 15: 7, 23: 6, 24: 7}
    """
    rates = np.asarray(rates, np.float64)
    aus = list(aus)
    if rates.shape != (len(aus),):
        raise ValueError(
            f"`rates` must hold one rate per AU of `aus` ({len(aus)}). "
            f"Received: shape={rates.shape}"
        )
    if not 1 <= low <= high:
        raise ValueError(f"Expected 1 <= low <= high. Received: low={low}, high={high}")
    minor = [au for au in minor_aus if au in aus]
    if not minor:
        raise ValueError(f"None of `minor_aus` {list(minor_aus)} is in `aus` {aus}.")
    minor_rates = np.array([rates[aus.index(au)] for au in minor])
    span = minor_rates.max() - minor_rates.min()
    position = (minor_rates.max() - minor_rates) / span if span > 0 else np.zeros_like(minor_rates)
    return {au: int(np.rint(low + (high - low) * p)) for au, p in zip(minor, position, strict=True)}


def eacnet_oversampling_counts(
    labels: Any, aus: Sequence[int], factors: Mapping[int, int]
) -> np.ndarray:
    """How many times each frame is picked: the largest factor among its present minor AUs.

    Args:
        labels: ``(num_examples, num_aus)`` 1 / 0 / -1.
        aus: AU ids of the columns.
        factors: ``{au: factor}`` (`eacnet_oversampling_factors`).

    Returns:
        int64 ``(num_examples,)``, 1 for frames without any minor AU.

    Example:
        >>> eacnet_oversampling_counts([[1, 0], [0, 1], [0, 0]], (1, 6), {1: 4})
        array([4, 1, 1])
    """
    labels = np.asarray(labels)
    aus = list(aus)
    if labels.ndim != 2 or labels.shape[1] != len(aus):
        raise ValueError(
            f"`labels` must have shape (num_examples, {len(aus)}). Received: shape={labels.shape}"
        )
    counts = np.ones(len(labels), np.int64)
    for au, factor in factors.items():
        if au not in aus:
            raise ValueError(f"AU {au} of `factors` is not among `aus` {aus}.")
        present = labels[:, aus.index(au)] == 1
        counts[present] = np.maximum(counts[present], int(factor))
    return counts


def drml_video_sampling(
    table: LabelTable,
    positives: int = DRML_POSITIVES_PER_VIDEO,
    negatives: int = DRML_NEGATIVES_PER_VIDEO,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """DRML's training set: per video and AU, up to ``positives`` / ``negatives`` frames.

    For each video and AU, ``positives`` frames where the AU is present and ``negatives``
    where it is absent are drawn without replacement (all of them when there are fewer). A
    frame is kept when it was drawn for at least one AU; its label for an AU it was not
    drawn for becomes -1 (unknown), as DRML's Caffe loss ignores those entries.

    Args:
        table: the split's `LabelTable` (`collect_labels`).
        positives: positive frames per video and AU. Defaults to 100 (BP4D; DISFA: 800).
        negatives: negative frames per video and AU. Defaults to 200 (DISFA: 1600).
        seed: numpy seed of the draws.

    Returns:
        ``(kept, labels)``: bool ``(num_examples,)`` and int32 ``(num_examples, num_aus)``
        sampled labels (rows of dropped frames are all -1).

    Example:
        >>> kept, labels = drml_video_sampling(collect_labels(train), seed=0)
    """
    if positives < 0 or negatives < 0:
        raise ValueError(
            f"`positives` and `negatives` must be >= 0. Received: {positives}, {negatives}"
        )
    rng = np.random.default_rng(seed)
    labels = np.asarray(table.labels)
    sampled = np.full(labels.shape, -1, np.int32)
    for video in np.unique(table.sequences):
        rows = np.flatnonzero(table.sequences == video)
        for column in range(labels.shape[1]):
            for value, limit in ((1, positives), (0, negatives)):
                candidates = rows[labels[rows, column] == value]
                if len(candidates) > limit:
                    candidates = rng.choice(candidates, size=limit, replace=False)
                sampled[candidates, column] = value
    kept = np.any(sampled >= 0, axis=1)
    return kept, sampled


def _lookup(keys: np.ndarray) -> tf.lookup.StaticHashTable:
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys.astype(str)), tf.range(len(keys), dtype=tf.int64)
        ),
        default_value=-1,
    )


def apply_sampling(
    dataset: tf.data.Dataset,
    table: LabelTable,
    counts: Any | None = None,
    labels: Any | None = None,
    label_key: str = "au",
) -> tf.data.Dataset:
    """Repeats, drops and relabels examples by `example_key`, inside ``tf.data``.

    Args:
        dataset: the split the ``table`` was collected from.
        table: its `LabelTable`.
        counts: ``(num_examples,)`` times each example appears (0 drops it); None: once.
        labels: ``(num_examples, num_aus)`` replacement labels (e.g. from
            `drml_video_sampling`); None keeps the stored ones.
        label_key: the label feature replaced by ``labels``. Defaults to ``"au"``.

    Returns:
        The resampled dataset, in the input's order (shuffle afterwards).

    Example:
        >>> kept, labels = drml_video_sampling(table)
        >>> train = apply_sampling(train, table, counts=kept.astype(int), labels=labels)
    """
    count_table = None if counts is None else np.asarray(counts, np.int64)
    label_table = None if labels is None else np.asarray(labels, np.int32)
    for name, array in (("counts", count_table), ("labels", label_table)):
        if array is not None and len(array) != len(table.keys):
            raise ValueError(
                f"`{name}` must have one row per example of the table ({len(table.keys)}). "
                f"Received: {len(array)}"
            )
    index = _lookup(table.keys)
    label_dtype = dataset.element_spec[label_key].dtype
    count_constant = None if count_table is None else tf.constant(count_table)
    label_constant = None if label_table is None else tf.constant(label_table)

    def with_row(example: dict[str, Any]) -> tuple[dict[str, Any], tf.Tensor]:
        row = index.lookup(example_key(example))
        tf.debugging.assert_non_negative(
            row, message="An example of the dataset is not in the label table."
        )
        return example, row

    def relabel(example: dict[str, Any], row: tf.Tensor) -> dict[str, Any]:
        if label_constant is None:
            return example
        example = dict(example)
        example[label_key] = tf.cast(tf.gather(label_constant, row), label_dtype)
        return example

    dataset = dataset.map(with_row, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if count_constant is not None:
        dataset = dataset.flat_map(
            lambda example, row: tf.data.Dataset.from_tensors((example, row)).repeat(
                tf.gather(count_constant, row)
            )
        )
    return dataset.map(relabel, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
