"""AUNets' multi-view system on a video: predict its view, then run that view's AU models.

`MultiViewPredictor` takes a `tfau.models.MultiViewEnsemble` (an ``AUNetsViewClassifier`` and,
per view, the AU models trained on it) and

1. reads up to ``view_frames`` faces spread over the video (detected, tracked and aligned as
   in `Predictor`), preprocesses them with the view classifier's `tfau.data` pipeline and lets
   the ensemble aggregate the per-frame view probabilities (`MultiViewEnsemble.predict_view`:
   mean, or the paper's max);
2. runs `Predictor` over the whole video with that view's models, their ``"au"`` columns
   concatenated in order (one binary AUNet per AU in the paper), into the CSV.

Only single-image AU models serve here (AUNet, HydraNet without flow); the flow fusions need
two frames per input.

Reference:
    Romero et al., "Multi-View Dynamic Facial Action Unit Detection" (AUNets), Image and
    Vision Computing 2018, Sec. 3.4 and 4.2.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfau.faces.alignment import (
    DEFAULT_OUTPUT_SIZE,
    align_face_from_keypoints,
    keypoints_from_landmarks,
)
from tfau.inference.model import AUModel, from_keras
from tfau.inference.predictor import PredictionSummary, Predictor, read_video


@dataclasses.dataclass
class MultiViewSummary:
    """Result of `MultiViewPredictor.predict_video`.

    Attributes:
        view: the video's view (0-based).
        view_probabilities: aggregated view probabilities ``(num_views,)``.
        view_faces: faces the view was decided on.
        prediction: the `PredictionSummary` of the AU pass.
    """

    view: int
    view_probabilities: np.ndarray
    view_faces: int
    prediction: PredictionSummary


def combine_models(models: Sequence[AUModel]) -> AUModel:
    """One `AUModel` whose columns are those of ``models`` side by side (same faces in).

    Args:
        models: AU models taking the same aligned faces (face size and alignment box).

    Returns:
        An `AUModel` with ``aus`` concatenated; its threshold is the first model's.
    """
    if not models:
        raise ValueError("Expected at least one AU model. Received: []")
    first = models[0]
    for model in models[1:]:
        if (model.face_size, model.box_enlarge) != (first.face_size, first.box_enlarge):
            raise ValueError(
                "Every model must take the same aligned faces. Received face sizes / boxes "
                f"{[(m.face_size, m.box_enlarge) for m in models]}"
            )
    aus = tuple(au for model in models for au in model.aus)
    if len(set(aus)) != len(aus):
        raise ValueError(f"The models predict an AU twice. Received AUs: {list(aus)}")

    def function(faces: np.ndarray) -> dict[str, np.ndarray]:
        return {"au": np.concatenate([model(faces)["au"] for model in models], axis=1)}

    return dataclasses.replace(
        first,
        model_name="+".join(model.model_name for model in models),
        aus=aus,
        predicts_landmarks=False,
        function=function,
    )


class MultiViewPredictor:
    """Routes a video to the AU models of its predicted view (AUNets' FERA 2017 system).

    Args:
        ensemble: a `tfau.models.MultiViewEnsemble` (view classifier + models per view).
        aus: ``{view: [AU numbers of each model's columns, in model order]}``, e.g.
            ``{0: [[1], [2], [4]], 1: [[1], [2], [4]]}`` for one binary AUNet per AU.
        view_frames: faces the view is decided on, spread over the video. Defaults to 32.
        face_size: side of the aligned faces. Defaults to 200.
        **predictor_kwargs: `Predictor` options (``smoothing``, ``detect_every``, ...).

    Example:
        >>> ensemble = MultiViewEnsemble(view_net, {0: [au1_v0, au2_v0], 1: [au1_v1, au2_v1]})
        >>> predictor = MultiViewPredictor(ensemble, {0: [[1], [2]], 1: [[1], [2]]})
        >>> result = predictor.predict_video("clip.mp4", "clip.csv")
        >>> result.view, result.view_probabilities.shape  # doctest: +SKIP
        (1, (9,))

    Reference:
        Romero et al., "Multi-View Dynamic Facial Action Unit Detection", Sec. 3.4, 4.2.
    """

    def __init__(
        self,
        ensemble: Any,
        aus: dict[int, Sequence[Sequence[int]]],
        *,
        view_frames: int = 32,
        face_size: int = DEFAULT_OUTPUT_SIZE,
        **predictor_kwargs: Any,
    ) -> None:
        from tfau.data import get_config

        if set(aus) != set(ensemble.view_models):
            raise ValueError(
                "`aus` must list the AUs of every view's models: views "
                f"{sorted(ensemble.view_models)}. Received views: {sorted(aus)}"
            )
        if view_frames < 1:
            raise ValueError(f"`view_frames` must be >= 1. Received: view_frames={view_frames}")
        self.ensemble = ensemble
        self.view_frames = int(view_frames)
        self.face_size = face_size
        self.view_config = get_config(
            "AUNetsViewClassifier",
            input_size=int(ensemble.view_classifier.inputs[0].shape[1]),
        )
        self.models: dict[int, AUModel] = {}
        for view, models in ensemble.view_models.items():
            if len(aus[view]) != len(models):
                raise ValueError(
                    f"View {view} has {len(models)} models; `aus[{view}]` lists "
                    f"{len(aus[view])}: {list(aus[view])}"
                )
            self.models[view] = combine_models(
                [
                    from_keras(model, aus=model_aus, face_size=face_size)
                    for model, model_aus in zip(models, aus[view], strict=True)
                ]
            )
        self.predictor_kwargs = predictor_kwargs
        self._predictors: dict[int, Predictor] = {}

    def _predictor(self, view: int) -> Predictor:
        if view not in self._predictors:
            self._predictors[view] = Predictor(self.models[view], **self.predictor_kwargs)
        return self._predictors[view]

    def view_faces(
        self, source: str | int | os.PathLike[str], max_frames: int | None = None
    ) -> np.ndarray:
        """Up to ``view_frames`` aligned uint8 faces spread over the video (first face each)."""
        frames, total = read_video(source, max_frames)
        stride = max(1, (total or self.view_frames) // self.view_frames)
        predictor = self._predictor(next(iter(self.models)))
        tracker = predictor.tracker
        tracker.reset()
        box_enlarge = next(iter(self.models.values())).box_enlarge
        faces = []
        for index, (frame, _) in enumerate(frames):
            found = tracker.update(frame)
            if index % stride or not found:
                continue
            keypoints = found[0].keypoints
            if predictor.aligns_from_landmarks:
                # Aligned as the AU pass aligns them (from the 68 landmarks' five points).
                landmarks = predictor.landmark_detector(frame, [found[0].box])[0]
                keypoints = keypoints_from_landmarks(landmarks)
            aligned = align_face_from_keypoints(
                frame, keypoints, output_size=self.face_size, box_enlarge=box_enlarge
            )
            faces.append(aligned.image)
            if len(faces) == self.view_frames:
                break
        if not faces:
            raise ValueError(f"No face found in {source!r}: cannot tell the video's view.")
        return np.stack(faces)

    def predict_view(self, faces: np.ndarray) -> tuple[int, np.ndarray]:
        """The view of aligned uint8 faces ``(N, S, S, 3)`` and the aggregated probabilities."""
        import tensorflow as tf

        from tfau.data import preprocess_example

        # The pipeline also builds the training target "view"; a placeholder feeds it.
        examples = (
            {"image": tf.constant(face), "landmarks": tf.zeros([49, 2]), "view": 0}
            for face in faces
        )
        images = [
            preprocess_example(example, self.view_config, training=False)[0]["image"]
            for example in examples
        ]
        return self.ensemble.predict_view(np.stack([image.numpy() for image in images]))

    def predict_video(
        self,
        source: str | int | os.PathLike[str],
        csv_path: str | os.PathLike[str],
        *,
        max_frames: int | None = None,
    ) -> MultiViewSummary:
        """Predicts the video's view, then its AUs with that view's models into ``csv_path``.

        Raises:
            ValueError: no face to decide the view on, or no models for the predicted view.
        """
        faces = self.view_faces(source, max_frames)
        view, scores = self.predict_view(faces)
        if view not in self.models:
            raise ValueError(
                f"The video's predicted view is {view}; models exist only for views "
                f"{sorted(self.models)}."
            )
        summary = self._predictor(view).predict_video(source, csv_path, max_frames=max_frames)
        return MultiViewSummary(view, np.asarray(scores), len(faces), summary)


__all__ = ["MultiViewPredictor", "MultiViewSummary", "combine_models"]
