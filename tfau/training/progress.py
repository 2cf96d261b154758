"""What a training run prints while it trains: a bar per epoch, plain lines, or nothing.

Every `Trainer` reports through one `TrainingProgress`; the runs above it (the stages of
`tfau.training.run`, the folds of `tfau.training.protocol`) only name what is running with
`progress_label`, so each bar and line says which fold and stage it belongs to. Only the
chief worker reports. ``verbose`` follows ``keras.Model.fit``:

- ``0``: silent.
- ``1`` (``"auto"``): in a terminal, a tqdm bar per epoch: steps done / steps, elapsed and
  time left, images per second and the running loss, ending with the epoch's validation
  scores. When the output is not a terminal (CI, log files) or a ``log`` function takes the
  lines: a plain line every `LINE_INTERVAL` seconds and one at the end of each epoch.
- ``2``: one line per epoch.

The per-epoch records of ``metrics.jsonl`` and TensorBoard do not depend on the verbosity.

Example:
    In a terminal, redrawn in place, then left with the validation scores::

        fold part3 stage 2/2 main epoch 1/2:  58%|████████▋      | 7/12 [00:01<00:00,
        31.1 img/s, loss=8.0183]

    Elsewhere, one line every `LINE_INTERVAL` seconds and one per epoch::

        fold part3 stage 2/2 main epoch 1/2: 7/12 steps [00:00<00:00, 35.3 img/s,
        loss=8.0183]
        fold part3 stage 2/2 main epoch 1/2: 12/12 steps [00:01<00:00, 35.3 img/s,
        loss=7.9556, val_mean_f1=0.0000, val_mean_accuracy=0.5833, val_mean_auc=nan]
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from tqdm import tqdm

#: Seconds between two plain progress lines (output that is not a terminal).
LINE_INTERVAL = 30.0

BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
)
LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}{postfix}]"

_LABELS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "tfau_progress_labels", default=()
)


@contextlib.contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Names what runs inside the block in every bar and line (labels nest, outer first).

    Example:
        >>> with progress_label("fold part1"), progress_label("stage 1/3 all_modules"):
        ...     trainer.train()  # doctest: +SKIP
    """
    token = _LABELS.set((*_LABELS.get(), label))
    try:
        yield
    finally:
        _LABELS.reset(token)


def resolve_verbose(verbose: int | str) -> int:
    """``0``, ``1`` or ``2`` from a ``verbose`` argument (``"auto"`` is ``1``, as in Keras).

    Example:
        >>> resolve_verbose("auto")
        1
    """
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(
        "`verbose` must be 0 (silent), 1 (a progress bar), 2 (one line per epoch) or 'auto'. "
        f"Received: verbose={verbose!r}"
    )


def _format_value(value: float) -> str:
    # Keras' Progbar precision.
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


@dataclasses.dataclass
class _Epoch:
    description: str
    steps: int
    initial: int
    batch_size: int
    start: float
    done: int = 0
    loss_sum: float = 0.0
    last_line: float = 0.0
    last_step: float = 0.0
    # The rate counts from the end of the first step (tracing, warm-up) when it can.
    rate_start: float = 0.0
    rate_done: int = 0

    def images_per_second(self) -> float | None:
        if self.done > self.rate_done and self.last_step > self.rate_start:
            return (
                self.batch_size * (self.done - self.rate_done) / (self.last_step - self.rate_start)
            )
        if self.done and self.last_step > self.start:
            return self.batch_size * self.done / (self.last_step - self.start)
        return None


class TrainingProgress:
    """Reports one run's epochs: a bar, periodic lines or one line per epoch (see the module).

    Args:
        verbose: 0 (silent), 1 (a bar in a terminal, else periodic lines), 2 (one line per
            epoch) or ``"auto"`` (1).
        chief: whether this worker reports; other workers print nothing.
        log: ``fn(line)`` receiving the lines instead of the output stream (no bar then).
        stream: the output; None: ``sys.stdout`` at the time of writing.

    Example:
        >>> progress = TrainingProgress(verbose=2)
        >>> progress.epoch_begin(epoch=0, epochs=1, steps=2, done=0, batch_size=4)
        >>> progress.step_end(0.7)
        >>> progress.step_end(0.5)
        >>> progress.epoch_end({"loss": 0.6, "val_mean_f1": 0.4})  # doctest: +SKIP
        epoch 1/1: 2/2 steps [00:00<00:00, 95.3 img/s, loss=0.6000, val_mean_f1=0.4000]
    """

    def __init__(
        self,
        verbose: int | str = "auto",
        *,
        chief: bool = True,
        log: Callable[[str], None] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        verbose = resolve_verbose(verbose)
        self.verbose = verbose if chief else 0
        self.log = log
        self.stream = stream
        self._epoch: _Epoch | None = None
        self._bar: tqdm | None = None

    def _output(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def _write(self, line: str) -> None:
        if self.log is not None:
            self.log(line)
        else:
            print(line, file=self._output(), flush=True)

    def _draws_bar(self) -> bool:
        if self.verbose != 1 or self.log is not None:
            return False
        isatty = getattr(self._output(), "isatty", None)
        return bool(isatty is not None and isatty())

    def message(self, text: str) -> None:
        """Prints one line (a restore, an early stop) unless silent."""
        if self.verbose:
            self._write(text)

    def epoch_begin(self, epoch: int, epochs: int, steps: int, done: int, batch_size: int) -> None:
        """Starts epoch ``epoch`` (0-based) of ``steps`` steps, ``done`` of them already run."""
        self.close()
        if not self.verbose:
            return
        description = " ".join((*_LABELS.get(), f"epoch {epoch + 1}/{epochs}"))
        now = time.monotonic()
        self._epoch = _Epoch(description, steps, done, batch_size, start=now, last_line=now)
        if self._draws_bar():
            self._bar = tqdm(
                total=steps,
                initial=done,
                desc=description,
                unit="step",
                bar_format=BAR_FORMAT,
                file=self._output(),
                dynamic_ncols=True,
                leave=True,
            )

    def step_end(self, loss: float) -> None:
        """One training step ended with batch loss ``loss``."""
        epoch = self._epoch
        if epoch is None:
            return
        now = time.monotonic()
        epoch.done += 1
        epoch.loss_sum += loss
        epoch.last_step = now
        if epoch.done == 1:
            epoch.rate_start, epoch.rate_done = now, 1
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update(1)
        elif (
            self.verbose == 1
            and now - epoch.last_line >= LINE_INTERVAL
            # The epoch's own line follows the last step.
            and epoch.initial + epoch.done < epoch.steps
        ):
            epoch.last_line = now
            self._write(self._line(now))

    def validating(self) -> None:
        """The epoch's steps are done and the validation split is being evaluated."""
        if self._bar is not None and self._epoch is not None:
            self._bar.set_postfix_str(f"{self._postfix()}, validating", refresh=True)

    def epoch_end(self, record: Mapping[str, Any]) -> None:
        """Ends the epoch with its record (the ``metrics.jsonl`` line): loss and scores."""
        epoch = self._epoch
        if epoch is None:
            return
        scores = {
            key: value
            for key, value in record.items()
            if key.startswith("val_") and isinstance(value, int | float)
        }
        if self._bar is not None:
            # The finished bar keeps every score, at the cost of wrapping a narrow terminal.
            self._bar.dynamic_ncols, self._bar.ncols = False, None
            self._bar.set_postfix_str(self._postfix(scores), refresh=False)
            self._bar.close()
            self._bar = None
        else:
            self._write(self._line(time.monotonic(), scores))
        self._epoch = None

    def close(self) -> None:
        """Ends an unfinished epoch's bar (a run stopped by an error), leaving it on screen."""
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._epoch = None

    def _postfix(self, scores: Mapping[str, float] | None = None) -> str:
        epoch = self._epoch
        rate = epoch.images_per_second()
        parts = [f"{rate:.1f} img/s" if rate is not None else "? img/s"]
        if epoch.done:
            parts.append(f"loss={_format_value(epoch.loss_sum / epoch.done)}")
        parts += [f"{key}={_format_value(value)}" for key, value in (scores or {}).items()]
        return ", ".join(parts)

    def _line(self, now: float, scores: Mapping[str, float] | None = None) -> str:
        epoch = self._epoch
        rate = epoch.images_per_second()
        return tqdm.format_meter(
            epoch.initial + epoch.done,
            epoch.steps,
            now - epoch.start,
            prefix=epoch.description,
            unit="step",
            rate=None if rate is None else rate / epoch.batch_size,
            bar_format=LINE_FORMAT,
            postfix=self._postfix(scores),
            initial=epoch.initial,
        )
