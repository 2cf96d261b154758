"""Moved to `tfau.model_files`; this name stays until tfau.training.protocol and tfau.cli.demo
import it from there."""

from tfau.model_files import (
    KerasFileError,
    ModelInfo,
    info_path,
    load_keras_model,
    read_model_info,
    save_trained_model,
)

__all__ = [
    "KerasFileError",
    "ModelInfo",
    "info_path",
    "load_keras_model",
    "read_model_info",
    "save_trained_model",
]
