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
