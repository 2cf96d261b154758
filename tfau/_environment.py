"""Process set-up that must happen before TensorFlow or Keras is first imported.

Keeps ``import tfau`` quiet and pins Keras to the TensorFlow backend (tfau's layers use a few
TF-only ops). oneDNN stays enabled: it is what makes convolutions fast on AVX-512 CPUs.

TensorFlow's shared libraries print a few INFO lines (oneDNN, CUDA stubs) through absl before
absl's logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them, and the first
device enumeration logs a CUDA error on machines without a GPU. When the user has not chosen a
log level, TensorFlow is imported and its devices listed here with the stderr file descriptor
pointed at /dev/null; Python-level errors raised meanwhile still reach the user, after stderr
is restored.
"""

import contextlib
import os
import sys
from collections.abc import Iterator

# Set when tfau (not the user) chose TF_CPP_MIN_LOG_LEVEL.
_MARKER = "TFAU_QUIET_TENSORFLOW"


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def configure() -> None:
    """Sets tfau's environment defaults without overriding anything the user set."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # A level tfau chose is inherited by worker processes; only the user's own choice counts.
    chosen_by_user = "TF_CPP_MIN_LOG_LEVEL" in os.environ and os.environ.get(_MARKER) != "1"
    if "tensorflow" in sys.modules or chosen_by_user:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ[_MARKER] = "1"
    with _stderr_silenced():
        import tensorflow

        # Enumerating devices initialises the CUDA stub, which logs an error line on machines
        # without a GPU; do it now, while stderr is silenced.
        tensorflow.config.list_physical_devices()
