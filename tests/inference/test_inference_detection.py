"""FaceDetector (MTCNN) on SynthAU frames: boxes and key points near the true landmarks."""

import numpy as np
import pytest

from tfau.faces.alignment import keypoints_from_landmarks
from tfau.faces.schemes import inter_ocular_distance
from tfau.inference import FaceDetector
from tfau.synth import SynthAU


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.mark.parametrize("size", [(640, 480), (320, 240)])
def test_detects_synth_faces_with_their_keypoints(detector, size):
    sequence = SynthAU("bp4d", image_size=size, seed=0).sequence("M002", "T1", 2)
    for t in range(2):
        (face,) = detector(sequence.frame(t))
        landmarks = sequence.landmarks49[0, t]
        truth = keypoints_from_landmarks(landmarks)
        # MTCNN's eyes are pupils, the truth's eye centres are eye-contour means: within 15%
        # of the inter-ocular distance, every point, in frame pixels at both sizes.
        errors = np.linalg.norm(face.keypoints - truth, axis=1)
        assert errors.max() < 0.15 * inter_ocular_distance(landmarks)
        x1, y1, x2, y2 = face.box
        assert x1 < truth[:, 0].min() and truth[:, 0].max() < x2
        assert y1 < truth[:, 1].min() and truth[:, 1].max() < y2
        assert 0.8 <= face.confidence <= 1.0


def test_no_face(detector):
    assert detector(np.full((240, 320, 3), 110, np.uint8)) == []


def test_bad_input(detector):
    with pytest.raises(ValueError, match=r"Expected an RGB uint8 frame.*shape=\(240, 320\)"):
        detector(np.zeros((240, 320), np.uint8))
    with pytest.raises(ValueError, match=r"`detection_size` must be None or an integer >= 48"):
        FaceDetector(detection_size=20)
    with pytest.raises(ValueError, match=r"`thresholds` must be three values in \[0, 1\]"):
        FaceDetector(thresholds=(0.6, 0.7))
