"""Export of trained tfau models as SavedModels that serve with TensorFlow alone.

``export_model(model, path, *, model_name, aus, face_size=200, ...)`` writes the network and
its test-time preprocessing (and JAA-Net's 5-key-point alignment) as a SavedModel with the
signatures ``"faces"`` (= ``"serving_default"``) and ``"frames"`` (optical-flow networks:
``"faces"`` and ``"flow_frames"``); see
``tfau.export.saved_model`` for their inputs and outputs. ``tfau export`` is its command line.

Not imported by ``import tfau``: use ``import tfau.export``.
"""

from tfau.export.saved_model import (
    FACES_SIGNATURE,
    FLOW_FRAMES_SIGNATURE,
    FRAMES_SIGNATURE,
    METADATA_FILE,
    ServingFunctions,
    au_names,
    export_model,
    flow_input,
    infer_config,
    resolve_model_name,
)

__all__ = [
    "FACES_SIGNATURE",
    "FLOW_FRAMES_SIGNATURE",
    "FRAMES_SIGNATURE",
    "METADATA_FILE",
    "ServingFunctions",
    "au_names",
    "export_model",
    "flow_input",
    "infer_config",
    "resolve_model_name",
]
