"""Process set-up that must happen before TensorFlow or Keras is first imported.

Keeps ``import tfau`` quiet and pins Keras to the TensorFlow backend (tfau's layers use a few
TF-only ops). oneDNN stays enabled where TensorFlow enables it (x86-64 CPUs with AVX-512 VNNI
/ BF16 or AMX), and the ``tfau`` command's training verbs and ``tfau predict`` turn it on
where TensorFlow leaves it off (e.g. AMD EPYC Zen 3, AVX2 only), unless the user set
``TF_ENABLE_ONEDNN_OPTS``: there, measured on 2 cores, oneDNN's kernels train DRML 2.5x faster
than TensorFlow's own (JAA-Net 1.18x, AUNet 1.12x, PAttNet 1.34x) and run the networks on
batches of 32 faces 1.1-1.7x faster (``tfau predict`` batches 16: a video end to end with DRML
1.29-1.33x, JAA-Net 1.04-1.17x, PAttNet 0.91-1.09x). Single faces are slower with oneDNN
(JAA-Net 1.5x, AUNet 1.9x at batch 1): other verbs and library use keep TensorFlow's choice.

TensorFlow's shared libraries print a few INFO lines (oneDNN, CUDA stubs) through absl before
absl's logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them, and the first
device enumeration logs a CUDA error on machines without a GPU. When the user has not chosen a
log level, TensorFlow is imported and its devices listed here with the stderr file descriptor
pointed at /dev/null; Python-level errors raised meanwhile still reach the user, after stderr
is restored.
"""

import contextlib
import os
import platform
import sys
from collections.abc import Iterator

# Set when tfau (not the user) chose TF_CPP_MIN_LOG_LEVEL.
_MARKER = "TFAU_QUIET_TENSORFLOW"
# Verbs of the ``tfau`` command that run with oneDNN on x86-64: they train, or serve batches.
ONEDNN_VERBS = ("demo", "train", "cv", "predict")


def _is_onednn_command(argv: list[str]) -> bool:
    """Whether this process is ``tfau <one of ONEDNN_VERBS>`` (the console script, or
    ``python -m tfau``, whose ``argv[0]`` is ``-m`` while the package is imported)."""
    launcher = os.path.basename(argv[0]) if argv else ""
    return launcher in ("tfau", "-m") and len(argv) > 1 and argv[1] in ONEDNN_VERBS


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
    if (
        "tensorflow" not in sys.modules
        and platform.machine().lower() in ("x86_64", "amd64")
        and _is_onednn_command(sys.argv)
    ):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
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
