"""Helpers shared by the dataset builder tests (imported from the tests' own folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from tfau.datasets import common

DATASETS_DIR = Path(common.__file__).resolve().parent
BP4D_DUMMY = DATASETS_DIR / "bp4d" / "dummy_data"
DISFA_DUMMY = DATASETS_DIR / "disfa" / "dummy_data"


def manifest(root: Path) -> dict[str, Any]:
    """The SynthAU writers' manifest of a dummy_data folder."""
    return json.loads((root / "synthau_manifest.json").read_text())


def build(
    name: str, manual_dir: Path | None, data_dir: Path, num_workers: int = 1
) -> tfds.core.DatasetBuilder:
    """Builds ``name`` (``dataset/config``) into ``data_dir`` through TFDS's Python API."""
    builder = tfds.builder(name, data_dir=str(data_dir), num_workers=num_workers)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=None if manual_dir is None else str(manual_dir)
        )
    )
    return builder


def examples_by_key(results: list[common.SequenceResult]) -> dict[str, dict[str, Any]]:
    """All examples of some task results, by key."""
    return {key: example for result in results for key, example in result.examples}


def skipped(results: list[common.SequenceResult]) -> list[tuple[str, str]]:
    """All ``(reason, where)`` skips of some task results."""
    return [item for result in results for item in result.skipped]


def decode(jpeg: bytes) -> np.ndarray:
    """JPEG bytes -> RGB array."""
    image = common.decode_image(jpeg)
    assert image is not None
    return image


class SerialBuilderMixin:
    """DatasetBuilderTestCase mixin: build in-process (the pool has its own test)."""

    def _make_builder(self, config=None):
        return self.dataset_class(
            data_dir=self.tmp_dir, config=config, version=self.VERSION, num_workers=1
        )


def flow_batches(builder: tfds.core.DatasetBuilder, split: str) -> tuple[list, np.ndarray]:
    """A pairs split through the AUNetHorizontal pipeline (32 px, batches of 2, file order).

    Returns:
        The ``(inputs, targets)`` numpy batches and the split's ``has_previous`` in the same
        order.
    """
    import tfau.data

    dataset = tfau.data.load_split(builder, split)
    has_previous = np.array([bool(e["has_previous"]) for e in tfds.as_numpy(dataset)])
    pipeline = tfau.data.get_pipeline("AUNetHorizontal", input_size=32)
    batches = list(tfds.as_numpy(pipeline(dataset, training=False, batch_size=2)))
    return batches, has_previous


def check_flow_inputs(builder: tfds.core.DatasetBuilder, split: str, num_aus: int) -> None:
    """The AUNetHorizontal pipeline runs on a pairs split; a frame without a previous one
    (``previous_image`` = ``image``) gives a uniform (zero) flow image, the others do not."""
    batches, has_previous = flow_batches(builder, split)
    flows = np.concatenate([inputs["flow"] for inputs, _ in batches])
    images = np.concatenate([inputs["image"] for inputs, _ in batches])
    assert flows.shape == images.shape == (len(has_previous), 32, 32, 3)
    assert np.isfinite(flows).all()
    labels = np.concatenate([targets["au"] for _, targets in batches])
    assert labels.shape == (len(has_previous), num_aus)
    spread = flows.reshape(len(flows), -1, 3).std(axis=1).max(axis=-1)  # 0-255 scale
    assert has_previous.any() and not has_previous.all()
    assert (spread[~has_previous] < 0.01).all()  # float rounding of the mean subtraction
    assert (spread[has_previous] > 1.0).all()
