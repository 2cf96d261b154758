"""Process set-up that must happen before TensorFlow or Keras is first imported.

Keeps ``import tfau`` quiet: TensorFlow's C++ start-up INFO/WARNING lines are hidden unless the
user already chose a level, and Keras is pinned to the TensorFlow backend (tfau's layers use a
few TF-only ops). oneDNN stays enabled: it is what makes convolutions fast on AVX-512 CPUs.
"""

import os


def configure() -> None:
    """Set tfau's environment defaults without overriding anything the user set."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
