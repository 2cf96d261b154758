"""Process pools that work from any caller: scripts without a ``__main__`` guard included.

Building a dataset or writing SynthAU runs numpy/OpenCV/h5py work on several processes. Forking
the caller deadlocks when it runs threads that hold locks (TensorFlow, Apache Beam), so the
workers come from a fork server (``spawn`` where there is none). Python then prepares every
worker by re-importing the caller's ``__main__`` file, which in a plain script (``tfds.load``
at the top level, no ``if __name__ == "__main__":``) runs the build again inside the worker and
dies with "An attempt has been made to start a new process before the current process has
finished its bootstrapping phase". The workers here run functions of tfau's own modules only,
so they are started without that step: the build works from any script, notebook or
``python -c``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import multiprocessing.spawn
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_PATCH_LOCK = threading.Lock()
_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


@contextlib.contextmanager
def _workers_skip_main() -> Iterator[None]:
    """While open, new worker processes do not re-import the caller's ``__main__``.

    ``multiprocessing`` puts the main module into each spawned or fork-server worker's
    preparation data (`multiprocessing.spawn.get_preparation_data`); this drops it. The pool
    starts its workers while the block is open (``ProcessPoolExecutor`` starts them on submit).
    """
    with _PATCH_LOCK:
        original = multiprocessing.spawn.get_preparation_data

        def without_main(name: str) -> dict[str, Any]:
            data = original(name)
            for key in _MAIN_KEYS:
                data.pop(key, None)
            return data

        multiprocessing.spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            multiprocessing.spawn.get_preparation_data = original


@contextlib.contextmanager
def process_pool(
    workers: int,
    preload: Sequence[str] = (),
    initializer: Callable[[], None] | None = None,
) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` processes from a fork server (``spawn`` where
    the platform has none) whose workers never run the caller's ``__main__``.

    Args:
        workers: number of processes.
        preload: modules the fork server imports once, so that workers start ready.
        initializer: run once in each worker.

    Only functions importable from modules (not from ``__main__``) can be submitted.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # No effect if the fork server already runs.
        context.set_forkserver_preload(list(preload))
    else:
        context = multiprocessing.get_context("spawn")
    with (
        _workers_skip_main(),
        concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=initializer
        ) as pool,
    ):
        yield pool
