"""68-point landmarks (dlib, the ``landmarks`` extra) and face alignment against SynthAU truth.

Renders SynthAU frames (640 x 480, ``--seeds`` x 4 subjects x ``--frames`` frames per
sequence, frontal camera with the generator's head motion) whose true 66 landmarks are known,
detects each face with MTCNN (tfau's `FaceDetector`, default settings) and places dlib's 68
landmarks on its box. Printed:

1. Landmark error: mean point-to-point distance over the inter-ocular distance of the true
   landmarks (eye centres), per scheme after `tfau.faces.convert_landmarks` (68 -> 66, the
   SynthAU scheme, and 68 -> 49, BP4D's) and for the five alignment key points (eye centres,
   nose tip, mouth corners; MTCNN's own five beside them). Boxes: MTCNN's box as it is and
   mapped to the box dlib's predictor was trained on (`predictor_box`, the default).
2. Alignment: JAA-Net's 200 px similarity alignment from MTCNN's five key points and from the
   five points of dlib's 68 landmarks, each against the alignment from the true landmarks:
   mean (and largest) displacement of the 49 true landmarks in the 200 px face, and the scale
   ratio of the two transforms.
3. Time per face of the landmark detector (one core, after a warm-up).

Usage::

    python experiments/benchmarks/landmarks.py --seeds 3 --frames 5
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from tfau.faces import (
    convert_landmarks,
    inter_ocular_distance,
    keypoints_from_landmarks,
    similarity_from_keypoints,
    transform_points,
)
from tfau.inference import FaceDetector
from tfau.inference.landmarks import LandmarkDetector
from tfau.synth import SynthAU

SUBJECTS = ("F001", "F002", "M001", "M002")


def mean_error(predicted: np.ndarray, truth: np.ndarray, iod: float) -> float:
    return float(np.linalg.norm(predicted - truth, axis=-1).mean() / iod)


def displacement(matrix: np.ndarray, truth_matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distances in the aligned face between the points placed by two alignments."""
    return np.linalg.norm(
        transform_points(points, matrix) - transform_points(points, truth_matrix), axis=-1
    )


def scale(matrix: np.ndarray) -> float:
    return float(np.hypot(*matrix[0, :2]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=5, help="frames per sequence")
    parser.add_argument("--step", type=int, default=8, help="frames between measured frames")
    args = parser.parse_args()

    detector = FaceDetector()
    adjusted = LandmarkDetector()
    raw = LandmarkDetector(adjust_box=False)
    errors: dict[str, list[float]] = {}
    moved: dict[str, list[np.ndarray]] = {"mtcnn": [], "landmarks68": []}
    scales: dict[str, list[float]] = {"mtcnn": [], "landmarks68": []}
    faces = missed = 0
    seconds = 0.0
    for seed in range(args.seeds):
        generator = SynthAU("bp4d", image_size=(640, 480), seed=seed)
        for subject in SUBJECTS:
            sequence = generator.sequence(subject, "T1", args.frames * args.step)
            for t in range(0, args.frames * args.step, args.step):
                frame = sequence.frame(t)
                truth66 = sequence.landmarks66[0, t]
                truth49 = convert_landmarks(truth66, 49)
                iod = float(inter_ocular_distance(truth66))
                found = detector(frame)
                if not found:
                    missed += 1
                    continue
                face = found[0]
                faces += 1
                tick = time.perf_counter()
                points = adjusted(frame, [face.box])[0]
                seconds += time.perf_counter() - tick
                points_raw = raw(frame, [face.box])[0]
                true_keypoints = keypoints_from_landmarks(truth66)
                for name, landmarks in (("box", points), ("raw box", points_raw)):
                    errors.setdefault(f"66 ({name})", []).append(
                        mean_error(convert_landmarks(landmarks, 66), truth66, iod)
                    )
                    errors.setdefault(f"49 ({name})", []).append(
                        mean_error(convert_landmarks(landmarks, 49), truth49, iod)
                    )
                    errors.setdefault(f"5 key points ({name})", []).append(
                        mean_error(keypoints_from_landmarks(landmarks), true_keypoints, iod)
                    )
                errors.setdefault("5 key points (MTCNN)", []).append(
                    mean_error(face.keypoints, true_keypoints, iod)
                )
                truth_matrix = similarity_from_keypoints(true_keypoints)
                for name, keypoints in (
                    ("mtcnn", face.keypoints),
                    ("landmarks68", keypoints_from_landmarks(points)),
                ):
                    matrix = similarity_from_keypoints(keypoints)
                    moved[name].append(displacement(matrix, truth_matrix, truth49))
                    scales[name].append(scale(matrix) / scale(truth_matrix))

    print(f"{faces} faces measured, {missed} frames where MTCNN found no face")
    print("\nLandmark error / inter-ocular distance (mean, median, 90th percentile):")
    for name, values in errors.items():
        values = np.asarray(values)
        print(
            f"  {name:28s} {values.mean():.4f}  {np.median(values):.4f}  "
            f"{np.percentile(values, 90):.4f}"
        )
    print("\nAlignment vs the true landmarks' alignment (200 px face, 49 true landmarks):")
    for name in moved:
        per_face = np.stack(moved[name])
        ratio = np.asarray(scales[name])
        print(
            f"  {name:12s} mean {per_face.mean():.2f} px, per-face max mean "
            f"{per_face.mean(axis=1).max():.2f} px, largest {per_face.max():.2f} px, "
            f"scale ratio {ratio.mean():.3f} (sd {ratio.std():.3f})"
        )
    print(f"\nLandmark detector: {1000 * seconds / max(faces, 1):.2f} ms per face (one core)")


if __name__ == "__main__":
    main()
