"""synth_au builder: rendered by tfau.synth, views and previous-frame pairs, labels exact."""

from __future__ import annotations

import dataset_test_utils as utils
import numpy as np
import pytest
import tensorflow_datasets as tfds
import tfau.datasets  # noqa: F401  (registers the builders)
from tfau.datasets import common
from tfau.datasets.bp4d import layout as bp4d_layout
from tfau.datasets.synth_au import generate, synth_au_dataset_builder

from tfau.synth import ALL_AUS, DISFA_VIEWS, SynthAU


class SynthAUTinyTest(utils.SerialBuilderMixin, tfds.testing.DatasetBuilderTestCase):
    """The tiny config: 3 subjects (one per part) x 1 task x 3 frames x 2 views."""

    DATASET_CLASS = synth_au_dataset_builder.Builder
    EXAMPLE_DIR = str(utils.DATASETS_DIR / "synth_au" / "dummy_data")
    BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]  # noqa: RUF012
    SPLITS = {"part1": 6, "part2": 6, "part3": 6}  # noqa: RUF012


def _tiny_task(subject: str = "F001", **changes) -> generate.SynthTask:
    config = next(c for c in synth_au_dataset_builder.Builder.BUILDER_CONFIGS if c.name == "tiny")
    fields = dict(
        subject=subject,
        task=config.tasks[0],
        profile=config.profile,
        standard_aus=bp4d_layout.STANDARD_AUS,
        num_frames=config.num_frames,
        frame_size=config.frame_size,
        num_views=config.num_views,
        seed=config.seed,
        crop=config.crop_spec(),
    )
    fields.update(changes)
    return generate.SynthTask(**fields)


def test_examples_match_the_generator():
    task = _tiny_task()
    result = generate.sequence_examples(task)
    assert not result.skipped
    assert len(result.examples) == task.num_frames * task.num_views
    sequence = SynthAU("bp4d", image_size=task.frame_size, seed=task.seed, views=DISFA_VIEWS)
    sequence = sequence.sequence(task.subject, task.task, task.num_frames)
    examples = dict(result.examples)
    for view in range(task.num_views):
        for t in range(task.num_frames):
            example = examples[f"F001_T1_v{view}_{t + 1:05d}"]
            assert example["view"] == view and example["frame"] == t + 1
            labels = sequence.labels[t]
            for k, au in enumerate(bp4d_layout.STANDARD_AUS):
                assert example["au"][k] == int(labels[ALL_AUS.index(au)] >= 1)
                assert example["au_intensity"][au - 1] == labels[ALL_AUS.index(au)]
            matrix = common.face_matrix(sequence.landmarks49[view, t], task.crop)
            expected = common.warp_face(sequence.frame(t, view), matrix, task.crop.image_size)
            stored = utils.decode(example["image"]).astype(np.float32)
            assert np.abs(stored - expected).mean() < 3.0
            previous = utils.decode(example["previous_image"]).astype(np.float32)
            if t == 0:
                assert not example["has_previous"]
                assert example["previous_image"] == example["image"]
            else:
                assert example["has_previous"]
                source = sequence.frame(t - 1, view)
                expected_previous = common.warp_face(source, matrix, task.crop.image_size)
                assert np.abs(previous - expected_previous).mean() < 3.0


def test_views_differ_and_landmarks_are_aligned():
    result = generate.sequence_examples(_tiny_task(num_frames=1))
    (_, left), (_, right) = result.examples
    assert left["image"] != right["image"]
    for example in (left, right):
        eyes = example["landmarks"][19:31].reshape(2, 6, 2).mean(axis=1)
        assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-3
        assert np.all(example["landmarks66"][17:] == example["landmarks"])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match=r"`num_views` must be one of \[1, 2, 9\]"):
        synth_au_dataset_builder.SynthAUConfig(name="x", num_views=3)
    with pytest.raises(ValueError, match=r"unknown subjects: \['F099'\]"):
        synth_au_dataset_builder.SynthAUConfig(name="x", subjects=("F001", "F099"))
    with pytest.raises(ValueError, match="`image_size` must be an integer >= 16"):
        synth_au_dataset_builder.SynthAUConfig(name="x", image_size=8)


def test_subjects_follow_the_parts(tmp_path):
    builder = utils.build("synth_au/tiny", None, tmp_path, num_workers=2)
    for part, subject in (("part1", "F001"), ("part2", "F003"), ("part3", "F004")):
        dataset = builder.as_dataset(split=part)
        subjects = {e["subject"].decode() for e in tfds.as_numpy(dataset)}
        assert subjects == {subject}
    assert builder.info.metadata["build_summary"]["examples"] == SynthAUTinyTest.SPLITS
    spec = builder.info.features
    assert spec["previous_image"].shape == (64, 64, 3)
    assert spec["view"].dtype == np.int32
