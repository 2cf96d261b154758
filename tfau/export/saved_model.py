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
Optical-flow networks (AUNets' flow fusions: AUNetFlow, AUNetChannels, ...) have no
``"frames"``; their ``"faces"`` takes the optical flow computed outside the graph (OpenCV's DIS
is no TF op), from the pair that their ``"flow_frames"`` gives:

``"flow_frames"``: the pairs to compute the flow of.
    Inputs: ``images`` and ``previous`` uint8 ``(B, S, S, 3)``: the faces and their previous
    frames cut out with the same alignment (the face itself where there is none: zero flow).
    Outputs: ``images`` and ``previous`` uint8 ``(B, n, n, 3)`` at the network's input size
    ``n`` (`tfau.data.flow_frame_pair`).
``"faces"`` of a flow network: ``images`` as above and ``flow`` float32 ``(B, n, n, 2)``,
    ``tfau.data.flow.dis_flow(previous, images, preset)`` of each pair ``"flow_frames"``
    returned (``preset`` = ``pipeline.flow_preset`` of ``tfau_export.json``): the network
    gets the flow image of the training pipeline (`tfau.inference` does this).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import tfau.models
from tfau.aus import au_names
from tfau.data import (
    PipelineConfig,
    flow_frame_pair,
    get_config,
    list_pipelines,
    preprocess_example,
)
from tfau.data.flow import dis_flow_batch
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
FLOW_FRAMES_SIGNATURE = "flow_frames"
#: File written next to the SavedModel with what was exported (JSON).
METADATA_FILE = "tfau_export.json"

_NUM_LANDMARKS = 49


def _model_inputs(model: keras.Model) -> dict[str, tuple[int | None, ...]]:
    return {tensor.name: tuple(tensor.shape) for tensor in model.inputs}


def infer_config(
    model: keras.Model,
    model_name: str,
    face_size: int = DEFAULT_OUTPUT_SIZE,
    **overrides: Any,
) -> PipelineConfig:
    """The test-time `PipelineConfig` of ``model``, sizes read from its inputs.

    Args:
        model: a tfau network (named inputs ``"image"``, ``"landmarks"``, ``"patches"``).
        model_name: its ``tfau.models`` registry name (e.g. ``"JAANet"``).
        face_size: side of the aligned faces the export takes. Defaults to 200.
        **overrides: arguments of the network's config function (win over inferred ones).

    Returns:
        The network's `PipelineConfig` with ``input_size`` / ``patch_size`` of this model.

    Raises:
        ValueError: inputs that do not match the network's pipeline.
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
        self,
        images: tf.Tensor,
        landmarks: tf.Tensor | None,
        previous: tf.Tensor | None = None,
        flow: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """uint8 faces (+ landmarks, + previous faces or their flow fields for flow networks)
        -> the model's inputs, batched."""
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
                # The training pipeline's flow image of (previous, image), or of the flow
                # field computed outside the graph from `flow_frames`.
                example["flow" if flow is not None else "previous_image"] = args[2]
            inputs, _ = preprocess_example(example, self.config, training=False, mean=self.mean)
            return {name: inputs[name] for name in self.input_shapes}

        signature = {
            name: tf.TensorSpec(shape[1:], tf.float32) for name, shape in self.input_shapes.items()
        }
        elements = (images, landmarks)
        if self.needs_flow:
            if flow is not None:
                elements += (flow,)
            else:
                elements += (images if previous is None else previous,)
        return tf.map_fn(one, elements, fn_output_signature=signature)

    def flow_frames(self, images: tf.Tensor, previous: tf.Tensor) -> dict[str, tf.Tensor]:
        """uint8 faces and previous faces -> the pairs whose DIS flow the network takes
        (`tfau.data.flow_frame_pair`), uint8 ``(B, n, n, 3)`` each."""
        spec = tf.TensorSpec([self.config.input_size, self.config.input_size, 3], tf.uint8)
        current, before = tf.map_fn(
            lambda pair: flow_frame_pair(pair[0], pair[1], self.config),
            (images, previous),
            fn_output_signature=(spec, spec),
        )
        return {"images": current, "previous": before}

    def serve_faces(
        self,
        images: tf.Tensor,
        landmarks: tf.Tensor | None,
        previous: tf.Tensor | None = None,
        flow: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        inputs = self.preprocess(images, landmarks, previous, flow)
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
        if self.needs_flow:
            side = self.config.input_size
            flow_spec = tf.TensorSpec([None, side, side, 2], tf.float32, name="flow")
            previous_spec = tf.TensorSpec([None, size, size, 3], tf.uint8, name="previous")

            def faces_flow(images: tf.Tensor, flow: tf.Tensor) -> dict[str, tf.Tensor]:
                return self.serve_faces(images, None, flow=flow)

            return {
                FACES_SIGNATURE: (faces_flow, [faces_spec, flow_spec]),
                FLOW_FRAMES_SIGNATURE: (self.flow_frames, [faces_spec, previous_spec]),
            }
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


def flow_input(
    flow_frames: Any, images: np.ndarray, previous: np.ndarray, preset: str
) -> np.ndarray:
    """The ``flow`` input of a flow network's ``"faces"`` signature, computed outside the graph.

    Args:
        flow_frames: its ``"flow_frames"`` signature (SavedModel or LiteRT), called with
            keyword ``images`` and ``previous``.
        images: uint8 ``(B, S, S, 3)`` faces.
        previous: uint8 ``(B, S, S, 3)``, their previous frames cut out with the same
            alignment (the face itself where there is none).
        preset: DIS preset of the network's pipeline (``pipeline.flow_preset`` of the export).

    Returns:
        float32 ``(B, n, n, 2)``: OpenCV's DIS flow of each pair at the network's input size.
    """
    pairs = flow_frames(images=images, previous=previous)
    return dis_flow_batch(np.asarray(pairs["previous"]), np.asarray(pairs["images"]), preset)


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
    ``"frames"``; ``"flow_frames"`` for optical-flow networks) and their inputs and outputs.

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
        ValueError: when ``aus`` does not match the model's output or a mean is missing.

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
            "flow_preset": config.flow_preset,
            "max_flow_magnitude": config.max_flow_magnitude,
        },
    }
    with open(os.path.join(path, METADATA_FILE), "w") as file:
        json.dump(metadata, file, indent=2)
    return metadata


__all__ = [
    "FACES_SIGNATURE",
    "FLOW_FRAMES_SIGNATURE",
    "FRAMES_SIGNATURE",
    "METADATA_FILE",
    "au_names",
    "export_model",
    "flow_input",
    "infer_config",
]
