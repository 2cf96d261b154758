"""A trained tfau model as a self-contained SavedModel with named serving signatures.

The SavedModel holds the network and its whole test-time preprocessing as TF graph ops
(`tfau.data.preprocess_example` with ``training=False``, JAA-Net's 5-key-point alignment from
`tfau.faces.alignment_tf`), so it serves with TensorFlow alone: no tfau, Keras, OpenCV or numpy.

Signatures (``tf.saved_model.load(path).signatures[name]``, keyword inputs):

``"faces"`` (also ``"serving_default"``): aligned faces.
    Inputs: ``images`` uint8 ``(B, S, S, 3)`` RGB faces aligned as the dataset builders align
    them (`tfau.faces.align_face`, ``S = face_size``, 200 by default), any batch size;
    networks with a ``"landmarks"`` input (EAC-Net's E-Net and EAC-Net) also take
    ``landmarks`` float32 ``(B, 49, 2)`` in the faces' pixels.

``"frames"``: whole frames and five key points per face (one face per frame).
    Inputs: ``images`` uint8 ``(B, H, W, 3)``, ``keypoints`` float32 ``(B, 5, 2)`` (x, y
    pixels: image-left eye centre, image-right eye centre, nose tip, image-left and
    image-right mouth corners, as a detector such as MTCNN gives); landmark networks also
    ``landmarks`` float32 ``(B, 49, 2)`` in frame pixels. The faces are aligned in the graph
    (similarity transform, bilinear, grey 128 border, rounded to uint8 like
    ``cv2.warpAffine``), then served as ``"faces"``.

Outputs of both (dict keys):
    ``au_probabilities`` float32 ``(B, num_aus)``; ``au_occurrence`` int32 ``(B, num_aus)``
    (``p >= threshold``, 0.5 by default); ``au_names`` string ``(num_aus,)`` (``"AU01"``...)
    (none of the three for AUNets' view classifier, which has no ``"au"`` output);
    where the network has them: ``landmarks`` float32 ``(B, 49, 2)`` in aligned-face pixels,
    ``attention`` (and JAA-Net's ``attention_initial``) ``(B, h, w, num_aus)``,
    ``patch_attention`` ``(B, 9)``, ``view`` probabilities. ``"frames"`` adds
    ``alignment_matrices`` float32 ``(B, 2, 3)`` (frame -> face pixels) and, with landmarks,
    ``frame_landmarks`` ``(B, 49, 2)`` in frame pixels.

PAttNet's nine patches are cut in the graph at the template positions scaled to the face
(`tfau.data.template_boxes`, what the pipeline uses for faces without landmarks): the aligned
faces have level eyes at nearly fixed positions, and the signatures take no landmarks for it.
Optical-flow networks (AUNets' flow fusions) need two consecutive frames and are not exported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

import tfau.models
from tfau.aus import au_names
from tfau.data import PipelineConfig, get_config, list_pipelines, preprocess_example
from tfau.faces.alignment import DEFAULT_BOX_ENLARGE, DEFAULT_OUTPUT_SIZE
from tfau.faces.alignment_tf import (
    invert_transform_tf,
    similarity_from_keypoints_tf,
    transform_points_tf,
    warp_affine_tf,
)
from tfau.model_files import check_aus

#: Signature names.
FACES_SIGNATURE = "faces"
FRAMES_SIGNATURE = "frames"
#: File written next to the SavedModel with what was exported (JSON).
METADATA_FILE = "tfau_export.json"

_NUM_LANDMARKS = 49


def _model_inputs(model: keras.Model) -> dict[str, tuple[int | None, ...]]:
    return {tensor.name: tuple(tensor.shape) for tensor in model.inputs}


def infer_config(
    model: keras.Model,
    model_name: str,
    face_size: int = DEFAULT_OUTPUT_SIZE,
    allow_flow: bool = False,
    **overrides: Any,
) -> PipelineConfig:
    """The test-time `PipelineConfig` of ``model``, sizes read from its inputs.

    Args:
        model: a tfau network (named inputs ``"image"``, ``"landmarks"``, ``"patches"``).
        model_name: its ``tfau.models`` registry name (e.g. ``"JAANet"``).
        face_size: side of the aligned faces the export takes. Defaults to 200.
        allow_flow: accept optical-flow networks (`tfau.inference` feeds them the previous
            frame; a SavedModel cannot hold OpenCV's flow). Defaults to False.
        **overrides: arguments of the network's config function (win over inferred ones).

    Returns:
        The network's `PipelineConfig` with ``input_size`` / ``patch_size`` of this model.

    Raises:
        ValueError: flow networks (unless ``allow_flow``), or inputs that do not match the
            network's pipeline.
    """
    inputs = _model_inputs(model)
    kwargs: dict[str, Any] = {}
    default = get_config(model_name)
    if "patches" in inputs:
        kwargs["patch_size"] = int(inputs["patches"][2])
        kwargs["input_size"] = face_size
    elif default.patch_index is not None:
        kwargs["patch_size"] = int(inputs["image"][1])
        kwargs["input_size"] = face_size
    elif "image" in inputs or "flow" in inputs:
        # AUNetFlow takes the flow image alone.
        kwargs["input_size"] = int(inputs.get("image", inputs.get("flow"))[1])
        if default.crop:
            kwargs["source_size"] = max(face_size, kwargs["input_size"])
    config = get_config(model_name, **{**kwargs, **overrides})
    if "flow" in config.inputs and not allow_flow:
        raise ValueError(
            f"Model {model_name!r} takes an optical-flow input, which needs two consecutive "
            "frames; export serves single images. Received inputs: "
            f"{sorted(inputs)}"
        )
    expected = set(config.inputs)
    if set(inputs) != expected:
        raise ValueError(
            f"The inputs of the model do not match the pipeline of {model_name!r}: expected "
            f"{sorted(expected)}. Received: {sorted(inputs)}"
        )
    return config


def _landmarks_to_face(points: tf.Tensor, config: PipelineConfig, face_size: int) -> tf.Tensor:
    """Network-input pixels -> aligned-face pixels (inverse of the test-time resize/crop)."""
    if config.crop:
        source = config.source_size or face_size
        points = points + float((source - config.input_size) // 2)
        return (points + 0.5) * (face_size / source) - 0.5
    return (points + 0.5) * (face_size / config.input_size) - 0.5


class ServingFunctions:
    """The signature functions of one model: preprocessing, the network, the outputs.

    `export_model` traces them into a SavedModel; `tfau.inference` calls them on a Keras
    model directly, so both serve with the same preprocessing.
    """

    def __init__(
        self,
        model: keras.Model,
        config: PipelineConfig,
        aus: Sequence[int],
        face_size: int,
        box_enlarge: float,
        threshold: float,
        mean: Sequence[float] | None,
    ) -> None:
        self.model = model
        self.config = config
        self.aus = list(aus)
        self.face_size = face_size
        self.box_enlarge = box_enlarge
        self.threshold = threshold
        self.mean = None if mean is None else [float(m) for m in mean]
        self.input_shapes = _model_inputs(model)
        self.needs_landmarks = "landmarks" in config.inputs
        self.needs_flow = "flow" in config.inputs

    def preprocess(
        self, images: tf.Tensor, landmarks: tf.Tensor | None, previous: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """uint8 faces (+ landmarks, + previous faces for flow) -> the model's inputs, batched."""
        batch = tf.shape(images)[0]
        if landmarks is None:
            landmarks = tf.zeros([batch, _NUM_LANDMARKS, 2], tf.float32)
        num_aus = len(self.aus)

        def one(args: tuple[tf.Tensor, ...]) -> dict[str, tf.Tensor]:
            image, points = args[:2]
            example = {
                "image": image,
                "landmarks": points,
                "au": tf.zeros([num_aus], tf.float32),
                # PAttNet: template patch boxes (the signatures take no landmarks for it).
                "has_landmarks": tf.constant(self.needs_landmarks),
                # The view classifier's training target, built by the pipeline and unused.
                "view": tf.constant(0, tf.int32),
            }
            if self.needs_flow:
                # The training pipeline's flow image of (previous, image).
                example["previous_image"] = args[2]
            inputs, _ = preprocess_example(example, self.config, training=False, mean=self.mean)
            return {name: inputs[name] for name in self.input_shapes}

        signature = {
            name: tf.TensorSpec(shape[1:], tf.float32) for name, shape in self.input_shapes.items()
        }
        elements = (images, landmarks)
        if self.needs_flow:
            elements += (images if previous is None else previous,)
        return tf.map_fn(one, elements, fn_output_signature=signature)

    def serve_faces(
        self, images: tf.Tensor, landmarks: tf.Tensor | None, previous: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        inputs = self.preprocess(images, landmarks, previous)
        # Call with the structure the functional model was built with (dict or bare tensor).
        structure = self.model.input
        if not isinstance(structure, dict):
            inputs = tf.nest.pack_sequence_as(
                structure, [inputs[tensor.name] for tensor in tf.nest.flatten(structure)]
            )
        outputs = self.model(inputs, training=False)
        if not isinstance(outputs, dict):
            outputs = {"au": outputs}
        result = {}
        if "au" in outputs:
            probabilities = tf.cast(outputs["au"], tf.float32)
            result = {
                "au_probabilities": probabilities,
                "au_occurrence": tf.cast(probabilities >= self.threshold, tf.int32),
                "au_names": tf.constant(au_names(self.aus), tf.string),
            }
        for name, value in outputs.items():
            if name == "au":
                continue
            value = tf.cast(value, tf.float32)
            if name == "landmarks":
                value = _landmarks_to_face(value, self.config, self.face_size)
            result[name] = value
        return result

    def serve_frames(
        self, images: tf.Tensor, keypoints: tf.Tensor, landmarks: tf.Tensor | None
    ) -> dict[str, tf.Tensor]:
        matrices = similarity_from_keypoints_tf(keypoints, self.face_size, self.box_enlarge)
        faces = warp_affine_tf(images, matrices, self.face_size)
        # Rounded to uint8 as cv2.warpAffine does, so "frames" == align_face + "faces".
        faces = tf.cast(tf.round(tf.clip_by_value(faces, 0.0, 255.0)), tf.uint8)
        face_landmarks = None if landmarks is None else transform_points_tf(landmarks, matrices)
        result = self.serve_faces(faces, face_landmarks)
        result["alignment_matrices"] = matrices
        if "landmarks" in result:
            result["frame_landmarks"] = transform_points_tf(
                result["landmarks"], invert_transform_tf(matrices)
            )
        return result

    def functions(self) -> dict[str, tuple[Any, list[tf.TensorSpec]]]:
        size = self.face_size
        faces_spec = tf.TensorSpec([None, size, size, 3], tf.uint8, name="images")
        frames_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
        keypoints_spec = tf.TensorSpec([None, 5, 2], tf.float32, name="keypoints")
        landmarks_spec = tf.TensorSpec([None, _NUM_LANDMARKS, 2], tf.float32, name="landmarks")
        if self.needs_landmarks:

            def faces(images: tf.Tensor, landmarks: tf.Tensor) -> dict[str, tf.Tensor]:
                return self.serve_faces(images, landmarks)

            def frames(
                images: tf.Tensor, keypoints: tf.Tensor, landmarks: tf.Tensor
            ) -> dict[str, tf.Tensor]:
                return self.serve_frames(images, keypoints, landmarks)

            return {
                FACES_SIGNATURE: (faces, [faces_spec, landmarks_spec]),
                FRAMES_SIGNATURE: (frames, [frames_spec, keypoints_spec, landmarks_spec]),
            }

        def faces_only(images: tf.Tensor) -> dict[str, tf.Tensor]:
            return self.serve_faces(images, None)

        def frames_only(images: tf.Tensor, keypoints: tf.Tensor) -> dict[str, tf.Tensor]:
            return self.serve_frames(images, keypoints, None)

        return {
            FACES_SIGNATURE: (faces_only, [faces_spec]),
            FRAMES_SIGNATURE: (frames_only, [frames_spec, keypoints_spec]),
        }


def resolve_model_name(model_name: str | None, keras_name: str) -> str:
    """The registry name given, or that of the network whose Keras model is ``keras_name``.

    The Keras names are those of the networks' records (`tfau.models.from_keras_name`).

    Raises:
        ValueError: when ``model_name`` is not the name of a network with a pipeline, or none
            is given and no such network builds a Keras model named ``keras_name``.
    """
    served = list_pipelines()
    if model_name is not None:
        if model_name not in served:
            raise ValueError(
                f"`model_name` must be one of {', '.join(served)}. "
                f"Received: model_name={model_name!r}"
            )
        return model_name
    try:
        name = tfau.models.from_keras_name(keras_name).name
    except KeyError:
        name = None
    if name not in served:
        raise ValueError(
            f"Cannot tell the network from the model's name {keras_name!r}: pass `model_name` "
            f"(--model_name), one of {', '.join(served)}."
        )
    return name


def export_model(
    model: keras.Model,
    path: str | os.PathLike[str],
    *,
    model_name: str,
    aus: Sequence[int],
    face_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
    threshold: float = 0.5,
    mean: Sequence[float] | None = None,
    **config_overrides: Any,
) -> dict[str, Any]:
    """Writes ``model`` and its test-time preprocessing as a SavedModel that needs only TF.

    See the module docstring for the signatures (``"serving_default"`` = ``"faces"``,
    ``"frames"``) and their inputs and outputs.

    Args:
        model: a trained tfau network (named inputs; an ``"au"`` output, or AUNets' view
            classifier's ``"view"``).
        path: output folder of the SavedModel.
        model_name: its ``tfau.models`` registry name, which fixes the preprocessing
            (`tfau.data.get_config`), e.g. ``"JAANet"``.
        aus: the AU numbers of the ``"au"`` output columns, e.g. ``[1, 2, 4, 6, 7, 10, 12,
            14, 15, 17, 23, 24]``; empty for the view classifier.
        face_size: side ``S`` of the aligned faces taken by ``"faces"`` and produced by the
            alignment of ``"frames"`` (the dataset's aligned size). Defaults to 200.
        box_enlarge: JAA-Net's face box over the key points' extent. Defaults to 2.9.
        threshold: probability from which an AU counts as occurring. Defaults to 0.5.
        mean: RGB training mean, required by networks normalised by mean subtraction (DRML).
        **config_overrides: arguments of the network's pipeline config function.

    Returns:
        The metadata also written to ``path/tfau_export.json`` (model name, AUs, face size,
        signatures with their input names, pipeline config).

    Raises:
        ValueError: when ``aus`` does not match the model's output, a mean is missing, or the
            network takes optical flow.

    Example:
        >>> export_model(model, "exported/jaanet", model_name="JAANet", aus=BP4D_AUS)
        >>> served = tf.saved_model.load("exported/jaanet")  # in any TF process
        >>> served.signatures["faces"](images=faces_uint8)["au_probabilities"]

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018 (the alignment of ``"frames"``).
    """
    config = infer_config(model, model_name, face_size, **config_overrides)
    aus = check_aus(model, aus)
    if config.normalization == "mean" and mean is None:
        raise ValueError(
            f"{model_name!r} subtracts the training mean: pass `mean` (R, G, B, 0-255)."
        )
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must be in (0, 1). Received: threshold={threshold}")
    serving = ServingFunctions(model, config, aus, face_size, box_enlarge, threshold, mean)
    archive = keras.export.ExportArchive()
    archive.track(model)
    functions = serving.functions()
    for name, (fn, signature) in functions.items():
        archive.add_endpoint(name, fn, input_signature=signature)
    path = os.fspath(path)
    archive.write_out(path, verbose=False)
    metadata = {
        "model_name": model_name,
        "aus": list(aus),
        "au_names": au_names(aus),
        "face_size": face_size,
        "box_enlarge": box_enlarge,
        "threshold": threshold,
        "mean": serving.mean,
        "signatures": {
            name: [spec.name for spec in signature] for name, (_, signature) in functions.items()
        },
        "pipeline": {
            "input_size": config.input_size,
            "crop": config.crop,
            "source_size": config.source_size,
            "normalization": config.normalization,
            "inputs": list(config.inputs),
            "patch_size": config.patch_size,
            "patch_index": config.patch_index,
        },
    }
    with open(os.path.join(path, METADATA_FILE), "w") as file:
        json.dump(metadata, file, indent=2)
    return metadata


__all__ = [
    "FACES_SIGNATURE",
    "FRAMES_SIGNATURE",
    "METADATA_FILE",
    "au_names",
    "export_model",
    "infer_config",
]
