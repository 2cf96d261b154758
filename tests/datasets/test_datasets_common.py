"""tfau.datasets.common: configs, label vectors, face boxes, image checks, build summary."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tfau.datasets import common


def test_face_config_names_and_checks():
    assert common.FaceConfig.make(aligned=True, image_size=176).name == "aligned176"
    config = common.FaceConfig.make(aligned=False, image_size=224, camera="right")
    assert config.name == "unaligned224_right"
    assert not config.aligned and config.image_size == 224
    with pytest.raises(ValueError, match=r'`camera` must be "left" or "right"\. .*camera=.up.'):
        common.FaceConfig(name="x", camera="up")
    with pytest.raises(ValueError, match=r"image_size=8"):
        common.FaceConfig.make(aligned=True, image_size=8)


def test_au_vectors():
    vectors = common.au_vectors({1: 1, 2: 0, 12: -1, 70: 1}, {12: 3}, standard_aus=(1, 2, 4, 12))
    np.testing.assert_array_equal(vectors["au"], [1, 0, -1, -1])
    assert vectors["au_full"].shape == (64,) and vectors["au_full"].dtype == np.int32
    assert vectors["au_full_mask"].sum() == 2  # AU1 and AU2; 12 unknown, 70 out of range
    assert vectors["au_intensity"][11] == 3
    assert (np.delete(vectors["au_intensity"], 11) == -1).all()


def test_nearest_landmarks_prefers_the_closer_then_the_earlier_frame():
    a, b = np.zeros((49, 2), np.float32), np.ones((49, 2), np.float32)
    nearest = common.nearest_landmarks([1, 3, 4, 5, 9], {2: a, 6: b})
    assert nearest[1] is a and nearest[3] is a and nearest[5] is b and nearest[9] is b
    assert nearest[4] is a  # tie between 2 and 6: the earlier
    assert common.nearest_landmarks([1], {}) == {}


def test_truncated_jpeg_is_rejected():
    ramp = np.linspace(0, 255, 32).astype(np.uint8)
    image = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 128), axis=-1)
    image = np.ascontiguousarray(image.astype(np.uint8))
    jpeg = common.encode_jpeg(image)
    decoded = common.decode_image(jpeg)
    assert decoded.shape == (32, 32, 3)
    assert np.abs(decoded.astype(int) - image).mean() < 2  # RGB order kept, JPEG loss only
    assert common.decode_image(jpeg[: len(jpeg) // 2]) is None
    assert common.decode_image(b"not an image") is None
    _, png = cv2.imencode(".png", image[:, :, ::-1])
    np.testing.assert_array_equal(common.decode_image(png.tobytes()), image)


def test_unaligned_box_covers_the_landmarks():
    rng = np.random.default_rng(1)
    landmarks = rng.uniform([100, 200], [180, 260], (49, 2)).astype(np.float32)
    matrix = common.box_matrix(landmarks, 224)
    moved = common.transform_points(landmarks, matrix)
    assert moved.min() > 0 and moved.max() < 224
    width = np.ptp(moved, axis=0).max()
    assert width == pytest.approx(224 / common.UNALIGNED_BOX_SCALE, rel=1e-5)
    assert matrix[0, 1] == 0 and matrix[1, 0] == 0  # no rotation


def test_crop_face_without_landmarks():
    image = np.full((100, 100, 3), 200, np.uint8)
    spec_aligned = common.CropSpec(aligned=True, image_size=32)
    spec_box = common.CropSpec(aligned=False, image_size=32)
    assert common.crop_face(image, None, spec_aligned) is None
    assert common.crop_face(image, None, spec_box) is None
    other = np.random.default_rng(2).uniform(30, 70, (49, 2)).astype(np.float32)
    face = common.crop_face(image, None, spec_box, box_landmarks=other)
    assert not face["has_landmarks"] and face["interocular_distance"] == 0
    np.testing.assert_array_equal(face["landmarks"], 0)


def test_summary_counts_and_rejects_unknown_reasons():
    result = common.SequenceResult()
    result.skip("missing_image", "/data/F001/T1: frame 3")
    result.skip("missing_image", "/data/F001/T1: frame 4")
    result.skip("corrupt_image", "/data/F001/T1/5.jpg")
    result.kept_without_landmarks = 2
    result.examples.append(("k", {}))
    summary = common.BuildSummary()
    summary.add("part1", result)
    data = summary.as_dict()
    assert data["examples"] == {"part1": 1}
    assert data["skipped"] == {"corrupt_image": 1, "missing_image": 2}
    assert data["skipped_total"] == 3
    assert data["skipped_examples"]["corrupt_image"] == ["/data/F001/T1/5.jpg"]
    assert data["kept_without_landmarks"] == 2
    with pytest.raises(KeyError, match="Unknown skip reason 'typo'"):
        result.skip("typo", "x")


def test_num_workers_is_checked():
    from tfau.datasets.bp4d import bp4d_dataset_builder

    with pytest.raises(ValueError, match=r"`num_workers` must be a positive integer\. .*=0"):
        bp4d_dataset_builder.Builder(num_workers=0)


def test_pairs_config_names_and_checks():
    config = common.FaceConfig.make(aligned=False, image_size=224, pairs=True)
    assert config.name == "unaligned224_pairs" and config.pairs
    assert "previous frame" in config.description
    assert config.crop_spec() == common.CropSpec(aligned=False, image_size=224, pairs=True)
    right = common.FaceConfig.make(aligned=True, image_size=200, camera="right", pairs=True)
    assert right.name == "aligned200_right_pairs"
    assert not common.FaceConfig.make(aligned=True, image_size=200).crop_spec().pairs
    with pytest.raises(ValueError, match=r"`pairs` must be a bool\. Received: pairs='yes'"):
        common.FaceConfig(name="x", pairs="yes")
    features = common.pair_features(48)
    assert features["previous_image"].shape == (48, 48, 3)
    assert features["has_previous"].dtype == np.bool_


def test_crop_face_cuts_the_previous_frame_with_the_frame_s_matrix():
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:90, :120]
    waves = [np.sin(x / 6.0 + c) * np.cos(y / 9.0 - c) for c in (0.0, 1.0, 2.0)]
    frame = (128 + 100 * np.stack(waves, axis=-1)).astype(np.uint8)  # smooth, few JPEG losses
    previous = np.roll(frame, 4, axis=1)  # the scene moved 4 px to the right
    landmarks = rng.uniform([40, 30], [80, 60], (49, 2)).astype(np.float32)
    spec = common.CropSpec(aligned=False, image_size=32, pairs=True)
    face = common.crop_face(frame, landmarks, spec, previous_rgb=previous)
    assert face["has_previous"]
    # Plain OpenCV reference: the frame's box, scale s and offset t, applied to the previous.
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    side = common.UNALIGNED_BOX_SCALE * (high - low).max()
    centre = (low + high) / 2 + [0, common.UNALIGNED_BOX_SHIFT * (high - low)[1]]
    scale = 32 / side
    matrix = np.array([[scale, 0, 16 - scale * centre[0]], [0, scale, 16 - scale * centre[1]]])
    reference = cv2.warpAffine(
        previous, matrix, (32, 32), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128)
    )
    stored = common.decode_image(face["previous_image"]).astype(np.float32)
    error = np.abs(stored - reference).mean()
    assert error < 3.0  # JPEG loss only
    current = common.decode_image(face["image"]).astype(np.float32)
    assert np.abs(current - reference).mean() > 3 * error  # the pair differs by the motion
    assert face["previous_image"] != face["image"]
    alone = common.crop_face(frame, landmarks, spec)
    assert not alone["has_previous"] and alone["previous_image"] == alone["image"]
    assert alone["image"] == face["image"]
    assert "previous_image" not in common.crop_face(frame, landmarks, common.CropSpec(False, 32))
    with pytest.raises(ValueError, match=r"`previous_rgb` is only used by pairs configs"):
        common.crop_face(frame, landmarks, common.CropSpec(False, 32), previous_rgb=previous)
    with pytest.raises(ValueError, match=r"must have the frame's shape \(90, 120, 3\)\. "):
        common.crop_face(frame, landmarks, spec, previous_rgb=previous[:-1])


def test_summary_counts_frames_kept_without_previous():
    result = common.SequenceResult()
    result.kept_without_previous = 3
    summary = common.BuildSummary()
    summary.add("part1", result)
    summary.add("part2", result)
    assert summary.as_dict()["kept_without_previous"] == 6


def test_a_plain_script_without_main_guard_builds_with_worker_processes(tmp_path):
    # Workers from a fork server re-import the caller's __main__ unless told not to: this
    # script (no `if __name__ == "__main__":`, the ordinary TFDS usage) would build again in
    # each worker and die ("... before the current process has finished its bootstrapping
    # phase", BrokenProcessPool).
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "build.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import dataclasses
            import tensorflow_datasets as tfds
            from tfau.datasets.synth_au import synth_au_dataset_builder as synth_au

            tiny = next(c for c in synth_au.Builder.BUILDER_CONFIGS if c.name == "tiny")
            # Two tasks per subject: two sequences per part, so the build uses the pool.
            config = dataclasses.replace(tiny, name="tiny_two_tasks", tasks=("T1", "T2"))
            data_dir = {str(tmp_path / "tfds")!r}
            builder = synth_au.Builder(config=config, data_dir=data_dir, num_workers=2)
            builder.download_and_prepare()
            print("examples", len(builder.as_dataset(split="part1")))
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "examples 12" in result.stdout
    assert "bootstrapping phase" not in result.stderr
