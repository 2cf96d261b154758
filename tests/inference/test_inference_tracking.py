"""FaceTracker: optical-flow tracking between detections, face ids, misses, lost faces."""

import numpy as np
import pytest
from inference_test_utils import BLANK, NUM_FRAMES

from tfau.faces.alignment import keypoints_from_landmarks
from tfau.faces.schemes import inter_ocular_distance
from tfau.inference import Detection, FaceTracker, box_iou


class TruthDetector:
    """Detects SynthAU faces from their true landmarks (counts its calls)."""

    def __init__(self, landmarks, blank=(), shift=0.0):
        self.landmarks = landmarks  # (T, faces, 49, 2)
        self.blank = set(blank)
        self.shift = shift
        self.frames = []
        self.frame = -1

    def __call__(self, frame):
        self.frames.append(self.frame)
        if self.frame in self.blank:
            return []
        out = []
        for points in self.landmarks[self.frame]:
            box = np.concatenate([points.min(0), points.max(0)])
            out.append(Detection(box, keypoints_from_landmarks(points) + self.shift, 0.99))
        return out


def run(tracker, detector, frames):
    results = []
    for t, frame in enumerate(frames):
        detector.frame = t
        results.append(tracker.update(frame))
    return results


def test_box_iou():
    assert box_iou(np.array([0, 0, 10, 10]), np.array([0, 0, 10, 10])) == 1.0
    assert box_iou(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(50 / 150)
    assert box_iou(np.array([0, 0, 10, 10]), np.array([10, 0, 20, 10])) == 0.0


def test_tracking_follows_the_face_between_detections(synth_sequence, synth_frames):
    landmarks = synth_sequence.landmarks49[0][:, None]  # (T, 1, 49, 2)
    detector = TruthDetector(landmarks, blank=BLANK)
    tracker = FaceTracker(detector, detect_every=5)
    results = run(tracker, detector, synth_frames)
    # Detector: frame 0, every 5 frames, and every frame while no face is tracked (blank
    # frames 6-8, where the corners are lost); frame 9 finds the face again.
    assert NUM_FRAMES - 1 < 9 + 5
    assert detector.frames == [0, 5, 6, 7, 8, 9]
    for t, faces in enumerate(results):
        if t in BLANK:
            assert faces == []
            continue
        (face,) = faces
        assert face.face_id == 0  # the id survives the three lost frames
        truth = keypoints_from_landmarks(synth_sequence.landmarks49[0, t])
        error = np.linalg.norm(face.keypoints - truth, axis=1).max()
        # Tracked key points stay within 10% of the inter-ocular distance of the truth.
        assert error < 0.1 * inter_ocular_distance(synth_sequence.landmarks49[0, t]), t
        assert face.detected == (t in detector.frames)
        assert 0.0 < face.confidence <= 0.99


def test_two_faces_keep_their_ids(synth_sequence, synth_frames):
    # The same video twice side by side: two faces, ids by position, stable over time.
    frames = [np.concatenate([f, f[:, ::-1]], axis=1) for f in synth_frames[:5]]
    width = synth_frames[0].shape[1]
    left = synth_sequence.landmarks49[0, :5]
    right = left.copy()
    right[..., 0] = 2 * width - 1 - right[..., 0]
    detections = np.stack([right, left], axis=1)  # the right face is detected first

    class Detector(TruthDetector):
        def __call__(self, frame):
            faces = super().__call__(frame)
            # The mirrored face's key points, back in image-left-first order.
            return [
                Detection(d.box, d.keypoints[[1, 0, 2, 4, 3]] if i == 0 else d.keypoints, 0.99)
                for i, d in enumerate(faces)
            ]

    detector = Detector(detections)
    tracker = FaceTracker(detector, detect_every=2)
    results = run(tracker, detector, frames)
    for faces in results:
        assert [f.face_id for f in faces] == [0, 1]
        # id 0 was the first detection (the right face) and stays on the right.
        assert faces[0].keypoints[:, 0].min() > width > faces[1].keypoints[:, 0].max()


def test_missed_detections_keep_a_tracked_face(synth_sequence, synth_frames):
    landmarks = synth_sequence.landmarks49[0][:, None]
    frames = synth_frames[:6]
    detector = TruthDetector(landmarks, blank={2, 4})
    tracker = FaceTracker(detector, detect_every=2, max_misses=1)
    results = run(tracker, detector, frames)
    # Frame 2: the detector misses the face, tracking keeps it at half confidence; frame 4:
    # a second miss in a row drops it; frame 5: nothing tracked, so the detector runs again.
    assert [len(faces) for faces in results] == [1, 1, 1, 1, 0, 1]
    assert detector.frames == [0, 2, 4, 5]
    assert not results[2][0].detected
    assert results[2][0].confidence == pytest.approx(0.5 * results[1][0].confidence, rel=0.05)
    assert results[5][0].face_id == 0 and results[5][0].detected


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`detect_every` must be a positive integer"):
        FaceTracker(lambda frame: [], detect_every=0)
    with pytest.raises(ValueError, match=r"`min_iou` must be in \(0, 1\]"):
        FaceTracker(lambda frame: [], min_iou=0)


@pytest.mark.parametrize("tracking_size", [None, 240])
def test_tracking_on_a_downscaled_frame_stays_in_frame_pixels(tracking_size):
    from tfau.synth import SynthAU

    sequence = SynthAU("bp4d", image_size=(640, 480), seed=2).sequence("M001", "T2", 6)
    landmarks = sequence.landmarks49[0]
    detector = TruthDetector(landmarks[:, None])
    tracker = FaceTracker(detector, detect_every=6, tracking_size=tracking_size)
    results = run(tracker, detector, [sequence.frame(t) for t in range(6)])
    assert detector.frames == [0]
    for t in range(1, 6):
        (face,) = results[t]
        error = np.linalg.norm(face.keypoints - keypoints_from_landmarks(landmarks[t]), axis=1)
        assert error.max() < 0.1 * inter_ocular_distance(landmarks[t]), (t, error)
