"""LandmarkDetector (dlib's 68 points, the `landmarks` extra) against SynthAU's true landmarks."""

import sys

import numpy as np
import pytest

from tfau.faces import convert_landmarks, inter_ocular_distance, keypoints_from_landmarks
from tfau.inference import FaceDetector
from tfau.inference.landmarks import LandmarkDetector, landmarks_available, predictor_box
from tfau.synth import SynthAU


@pytest.fixture(scope="module")
def landmark_detector():
    return LandmarkDetector()


def test_68_landmarks_on_synth_faces(landmark_detector):
    detector = FaceDetector()
    sequence = SynthAU("bp4d", image_size=(320, 240), seed=1).sequence("F002", "T1", 3)
    errors = {49: [], 66: [], 5: []}
    for t in range(3):
        frame = sequence.frame(t)
        (face,) = detector(frame)
        points = landmark_detector(frame, [face.box])
        assert points.shape == (1, 68, 2) and points.dtype == np.float32
        truth = sequence.landmarks66[0, t]
        iod = inter_ocular_distance(truth)
        for scheme in (49, 66):
            difference = convert_landmarks(points[0], scheme) - convert_landmarks(truth, scheme)
            errors[scheme].append(np.linalg.norm(difference, axis=1).mean() / iod)
        difference = keypoints_from_landmarks(points[0]) - keypoints_from_landmarks(truth)
        errors[5].append(np.linalg.norm(difference, axis=1).mean() / iod)
    # Measured at 640 x 480 over 60 faces (experiments/benchmarks/results/landmarks.md): 0.054
    # (49 points), 0.087 (66, with the jaw), 0.061 (the five alignment points).
    assert np.mean(errors[49]) < 0.08
    assert np.mean(errors[66]) < 0.12
    assert np.mean(errors[5]) < 0.09


def test_several_faces_and_no_face(landmark_detector):
    sequence = SynthAU("bp4d", image_size=(320, 240), seed=0).sequence("M001", "T1", 1)
    frame = sequence.frame(0)
    boxes = np.array([[90.0, 40.0, 230.0, 210.0], [96.0, 44.0, 226.0, 214.0]])
    points = landmark_detector(frame, boxes)
    assert points.shape == (2, 68, 2)
    for box, face in zip(boxes, points, strict=True):
        np.testing.assert_array_equal(landmark_detector(frame, [box])[0], face)
    assert landmark_detector(frame, np.zeros((0, 4))).shape == (0, 68, 2)


def test_predictor_box():
    box = np.array([100.0, 50.0, 180.0, 150.0])  # 80 wide, 100 high
    # Square of side 1.05 * 80 = 84 around (140, 100 + 0.06 * 100).
    np.testing.assert_allclose(predictor_box(box), [98.0, 64.0, 182.0, 148.0])
    assert predictor_box(np.stack([box, box])).shape == (2, 4)
    with pytest.raises(ValueError, match=r"Expected \(x1, y1, x2, y2\) boxes"):
        predictor_box([1.0, 2.0, 3.0])


def test_bad_frame(landmark_detector):
    with pytest.raises(ValueError, match=r"Expected an RGB uint8 frame"):
        landmark_detector(np.zeros((24, 32), np.uint8), [[0, 0, 10, 10]])


def test_without_the_extra_the_error_names_the_install_command(monkeypatch):
    assert landmarks_available()
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "tfau\[landmarks\]".*non-commercial'):
        LandmarkDetector()
