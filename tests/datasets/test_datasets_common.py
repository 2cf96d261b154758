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
