"""Inference on videos and images: faces found, tracked and aligned, AUs predicted, CSV out.

``Predictor(model, smoothing=5, detect_every=10, batch_size=16, ...)`` runs a trained model
(a ``.keras`` file or a SavedModel written by ``tfau export``) on a video file, a webcam, a
folder of images or one image and writes an OpenFace-style CSV (``frame, face_id, timestamp,
confidence, success``, landmarks ``x_i, y_i``, ``AUxx_p`` probabilities and ``AUxx_c``
occurrences); ``tfau predict`` is its command line. The parts:

- ``FaceDetector``: MTCNN (offline, weights in the ``mtcnn`` wheel) -> ``Detection`` boxes and
  the five key points JAA-Net aligns from.
- ``FaceTracker``: detection every few frames, optical-flow tracking in between, face ids.
- ``LandmarkDetector``: dlib's 68 landmarks on each detected face (the optional extra
  ``pip install "tfau[landmarks]"``; its model was trained on iBUG 300-W, whose licence
  excludes commercial use).
- ``load_model`` / ``from_keras`` -> ``AUModel``: aligned uint8 faces -> AU probabilities
  with the network's test-time preprocessing.
- ``median_smooth`` / ``TrackSmoother``: median filter along each face track.
- ``MultiViewPredictor``: AUNets' multi-view system; the view classifier of a
  ``tfau.models.MultiViewEnsemble`` routes a video to its view's AU models.

Not imported by ``import tfau``: use ``import tfau.inference``.
"""

from tfau.data.smoothing import TrackSmoother, median_smooth
from tfau.inference.detection import Detection, FaceDetector
from tfau.inference.landmarks import LANDMARKS_INSTALL, LandmarkDetector, landmarks_available
from tfau.inference.model import DEFAULT_AUS, AUModel, from_keras, load_model
from tfau.inference.multiview import MultiViewPredictor, MultiViewSummary, combine_models
from tfau.inference.predictor import (
    IMAGE_EXTENSIONS,
    STAGES,
    PredictionSummary,
    Predictor,
    csv_columns,
    list_images,
    read_image,
    read_video,
)
from tfau.inference.tracking import FaceTracker, TrackedFace, box_iou

__all__ = [
    "DEFAULT_AUS",
    "IMAGE_EXTENSIONS",
    "LANDMARKS_INSTALL",
    "STAGES",
    "AUModel",
    "Detection",
    "FaceDetector",
    "FaceTracker",
    "LandmarkDetector",
    "MultiViewPredictor",
    "MultiViewSummary",
    "PredictionSummary",
    "Predictor",
    "TrackSmoother",
    "TrackedFace",
    "box_iou",
    "combine_models",
    "csv_columns",
    "from_keras",
    "landmarks_available",
    "list_images",
    "load_model",
    "median_smooth",
    "read_image",
    "read_video",
]
