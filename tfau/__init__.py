"""tfau: facial Action Unit detection in TensorFlow/Keras.

Importing tfau registers every tfau Keras layer for serialization, so ``.keras`` files that
use them load with ``keras.saving.load_model(path)`` and ``safe_mode=True``.
"""

from tfau import _environment

_environment.configure()

from tfau import faces, layers, losses, metrics, models  # noqa: E402
from tfau.version import __version__  # noqa: E402

__all__ = ["__version__", "faces", "layers", "losses", "metrics", "models"]
