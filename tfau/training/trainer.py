"""`Trainer`: one custom training loop (``strategy.run``) for every tfau network.

The loop runs under any ``tf.distribute`` strategy, including MultiWorkerMirroredStrategy
(where Keras 3 ``fit`` fails, see the toolchain notes). Per-replica losses are tfau's
per-example losses summed and divided by the GLOBAL batch size, so gradients summed over
replicas equal the single-device gradient of the same global batch.

Determinism and resumption: the seed fixes initialisation, dropout, data order and
augmentation (tfau pipelines use stateless per-example seeds). Epoch ``e`` reads the training
pipeline built with seed ``seed + EPOCH_SEED_STRIDE * e``; a resumed run restores model,
optimizer, dropout seed states and the step, then skips the batches of the epoch already
consumed, so a run killed at any moment ends with the same weights as an uninterrupted one.

Example:
    >>> from tfau.training import Trainer, get_config
    >>> trainer = Trainer(get_config("synth_drml_tiny"), run_dir="/tmp/run", data_dir="/tmp/tfds")
    >>> history = trainer.train()
    >>> trainer.evaluate("part3")["mean_f1"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfau.training import losses as loss_lib
from tfau.training.building import build_model, building_scope
from tfau.training.config import TrainConfig
from tfau.training.optimizers import make_optimizer
from tfau.training.progress import TrainingProgress
from tfau.training.run_data import RunData, dataset_aus, run_pipeline
from tfau.training.strategy import is_chief, make_strategy, worker_id

#: Epoch ``e`` uses pipeline seed ``seed + EPOCH_SEED_STRIDE * e``.
EPOCH_SEED_STRIDE = 1_000_003


class NaNLossError(FloatingPointError):
    """Raised when the training loss is NaN or infinite; the message names step and batch."""


def predict_examples(
    predict: Callable[[Any], Mapping[str, Any]],
    pipeline: Callable[..., tf.data.Dataset],
    examples: tf.data.Dataset,
    *,
    batch_size: int,
    mean: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and AU probabilities of every example, through ``pipeline``'s test-time path.

    Args:
        predict: ``fn(inputs) -> outputs`` with an ``"au"`` output, e.g. a ``tf.function``
            of ``model(inputs, training=False)``.
        pipeline: the network's pipeline (`tfau.training.run_data.run_pipeline`).
        examples: TFDS examples (`tfau.data.load_split`).
        batch_size: examples per batch.
        mean: training RGB mean for pipelines that subtract it.

    Returns:
        ``(labels, probabilities)``, both ``(examples, num_aus)`` numpy arrays.
    """
    dataset = pipeline(examples, training=False, batch_size=batch_size, mean=mean)
    labels, probabilities = [], []
    for inputs, targets in dataset:
        labels.append(targets["au"].numpy())
        probabilities.append(np.asarray(predict(inputs)["au"], np.float32))
    return np.concatenate(labels), np.concatenate(probabilities)


def au_scores(
    labels: np.ndarray, probabilities: np.ndarray, *, split: str, au_names: Sequence[str]
) -> dict[str, Any]:
    """Per-AU F1-frame, accuracy and AUC of ``predict_examples``' output.

    Returns:
        ``{"split", "aus", "f1", "accuracy", "auc", "mean_f1", "mean_accuracy",
        "mean_auc", "num_examples"}``; per-AU values are lists, AUC NaN where an AU has a
        single class.
    """
    from tfau.metrics import accuracy, f1_frame, roc_auc

    f1 = f1_frame(labels, probabilities)
    acc = accuracy(labels, probabilities)
    auc = roc_auc(labels, probabilities)
    return {
        "split": split,
        "aus": list(au_names),
        "f1": f1.tolist(),
        "accuracy": acc.tolist(),
        "auc": auc.tolist(),
        "mean_f1": float(np.mean(f1)),
        "mean_accuracy": float(np.mean(acc)),
        "mean_auc": float(np.nanmean(auc)) if np.isfinite(auc).any() else float("nan"),
        "num_examples": int(labels.shape[0]),
    }


def au_column_names(aus: Sequence[int], num_aus: int) -> list[str]:
    """``AU1``... for the AUs of ``num_aus`` label columns; ``au0``... when they do not match."""
    if len(aus) != num_aus:
        return [f"au{i}" for i in range(num_aus)]
    return [f"AU{a}" for a in aus]


def evaluate_model_file(
    path: str | os.PathLike[str],
    config: TrainConfig,
    split: str | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """`Trainer.evaluate` of a saved model, without a Trainer: no optimizer, no training data.

    The model and its `tfau.model_files.ModelInfo` (AUs, training mean) are read from
    ``path``; the examples go through the pipeline a run of ``config`` feeds the network.

    Args:
        path: a ``.keras`` file saved with its ``model.json`` (a `tfau train` / `tfau cv` run).
        config: the config that trained it (a staged run's last stage).
        split: the split to score; None: ``config.test_split``.
        data_dir: TFDS data directory.

    Returns:
        As `Trainer.evaluate`.

    Raises:
        FileNotFoundError: ``path`` has no ``model.json`` beside it.

    Example:
        >>> results = evaluate_model_file("runs/drml/model.keras", config)  # doctest: +SKIP
        >>> results["mean_f1"]  # doctest: +SKIP
    """
    import tfau.data
    from tfau.model_files import info_path, load_keras_model, read_model_info

    info = read_model_info(path)
    if info is None:
        raise FileNotFoundError(
            f"{path} has no {info_path(path).name} beside it (its AUs and training mean): "
            "tfau training writes both."
        )
    model = load_keras_model(path)
    split = split or config.test_split
    pipeline, _ = run_pipeline(config, data_dir)
    labels, probabilities = predict_examples(
        tf.function(lambda inputs: model(inputs, training=False)),
        pipeline,
        tfau.data.load_split(config.dataset, split, data_dir),
        batch_size=config.batch_size,
        mean=info.mean,
    )
    names = au_column_names(info.aus, labels.shape[1])
    return au_scores(labels, probabilities, split=split, au_names=names)


class Trainer:
    """Trains and evaluates one tfau model from a `TrainConfig`.

    Args:
        config: the run's `TrainConfig`.
        data: the examples it trains and validates on (`RunData`); every training statistic
            (image mean, loss weights, steps per epoch) comes from ``data.train`` only. None:
            ``config.train_split`` and ``config.val_split`` of ``config.dataset`` whole.
        model: a built model; None: `tfau.training.building.build_model` (under the
            strategy's scope, required for multi-device strategies).
        pipeline: ``fn(dataset, *, training, batch_size, seed, repeat, mean, shuffle_buffer)``;
            None: ``tfau.data.get_pipeline(config.pipeline or config.model,
            **config.pipeline_kwargs)``. With ``config.aus`` it is given only their label
            columns.
        strategy: a ``tf.distribute.Strategy``; None: `make_strategy(config.strategy)`.
        data_dir: TFDS data directory.
        run_dir: output folder; overrides ``config.run_dir``.
        log: ``fn(line)`` receiving the progress lines instead of stdout (no bar then).
        verbose: as in ``keras.Model.fit``: 0 silent, 1 a progress bar per epoch (plain
            periodic lines when stdout is not a terminal), 2 one line per epoch, ``"auto"``
            1. Only the chief worker prints (`tfau.training.progress`).

    Example:
        >>> trainer = Trainer(config, run_dir="/tmp/run")  # doctest: +SKIP
        >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        data: RunData | None = None,
        model: Any | None = None,
        pipeline: Callable[..., tf.data.Dataset] | None = None,
        strategy: tf.distribute.Strategy | None = None,
        data_dir: str | None = None,
        run_dir: str | None = None,
        log: Callable[[str], None] | None = None,
        verbose: int | str = "auto",
    ) -> None:
        import keras

        self.config = config
        self.data_dir = data_dir
        self.run_dir = run_dir or config.run_dir
        if self.run_dir is None:
            raise ValueError("A run needs a `run_dir` (argument or config.run_dir).")
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        elif config.jit_compile:
            # XLA refuses max-pool gradients while op determinism is on, e.g. left on by an
            # earlier run in this process; TensorFlow only exposes the switch off here.
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        self.strategy = strategy or make_strategy(config.strategy)
        self.chief = is_chief(self.strategy)
        self.progress = TrainingProgress(verbose, chief=self.chief, log=log)

        if data is None:
            data = RunData.from_splits(
                config.dataset, config.train_split, config.val_split, data_dir=data_dir
            )
        self.data = data
        self.train_examples = data.train
        self.num_train_examples = data.num_train
        #: Label columns of ``config.aus`` (None: every column of the dataset).
        self.pipeline, self.au_columns = run_pipeline(config, data_dir, pipeline)
        pipeline_config = getattr(self.pipeline, "config", None)
        self.mean = None
        if pipeline_config is not None and pipeline_config.normalization == "mean":
            self.mean = data.image_mean
        self.steps_per_epoch = config.steps_per_epoch or (
            self.num_train_examples // config.batch_size
        )
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"The training split has {self.num_train_examples} examples, fewer than one "
                f"batch of {config.batch_size}: lower `batch_size` or set `steps_per_epoch`."
            )
        self.num_aus = data.num_aus if self.au_columns is None else len(self.au_columns)
        labels = None
        if any(loss_lib.needs_labels(s.name, s.kwargs) for _, s in config.loss_items()):
            labels = data.labels
            if self.au_columns is not None:
                labels = labels[:, self.au_columns]
        self.loss_terms = [
            (
                output,
                float(spec.weight),
                loss_lib.make_loss(spec.name, spec.kwargs, labels),
                spec.target,
            )
            for output, spec in config.loss_items()
        ]

        if model is None:
            model = build_model(config, data=data, strategy=self.strategy)
        self.model = model
        with building_scope(config, self.strategy):
            self.optimizer = make_optimizer(
                config.optimizer, self.steps_per_epoch, config.mixed_precision, config.epochs
            )
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.best_score = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
            self.epochs_without_gain = tf.Variable(0, dtype=tf.int64, trainable=False)
        # Dropout's SeedGenerator states are variables of the model but not all are
        # attributes Checkpoint follows: list every model variable explicitly.
        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            model_variables=list(self.model.variables),
            optimizer=self.optimizer,
            step=self.step,
            best_score=self.best_score,
            epochs_without_gain=self.epochs_without_gain,
        )
        directory = os.path.join(self.run_dir, "checkpoints")
        if not self.chief:
            directory = os.path.join(self.run_dir, f"tmp_worker{worker_id(self.strategy)}")
        self._checkpoint_dir = directory
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, directory, max_to_keep=config.keep_checkpoints
        )
        self._train_step = self._make_train_step()
        self._predict = tf.function(lambda inputs: self.model(inputs, training=False))

    # ----------------------------------------------------------------------------------------
    # Training

    def _loss(self, targets: dict[str, Any], outputs: dict[str, Any]) -> Any:
        replicas = self.strategy.num_replicas_in_sync
        total = tf.constant(0.0, tf.float32)
        for output, weight, fn, target in self.loss_terms:
            # y_true: the pipeline's target, or another model output (held constant).
            source = targets if target is None else outputs
            if output not in outputs or (target or output) not in source:
                raise KeyError(
                    f"Loss on output {output!r} (y_true: {target or output!r} of the "
                    f"{'pipeline targets' if target is None else 'model outputs'}): the model "
                    f"outputs {sorted(outputs)} and the pipeline targets {sorted(targets)}."
                )
            y_true = source[target or output]
            if target is not None:
                y_true = tf.stop_gradient(tf.cast(y_true, tf.float32))
            value = tf.cast(fn(y_true, tf.cast(outputs[output], tf.float32)), tf.float32)
            if value.shape.rank == 0:
                value = value / replicas
            else:
                value = tf.reduce_sum(value) / self.config.batch_size
            total += weight * value
        if self.model.losses:
            total += tf.add_n([tf.cast(v, tf.float32) for v in self.model.losses]) / replicas
        return total

    def _make_train_step(self) -> Callable[[Any], Any]:
        model, optimizer = self.model, self.optimizer

        def gradients(inputs: Any, targets: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                outputs = model(inputs, training=True)
                loss = self._loss(targets, outputs)
                scaled = optimizer.scale_loss(loss)
            return loss, tape.gradient(scaled, model.trainable_variables)

        if self.config.jit_compile:
            gradients = tf.function(gradients, jit_compile=True)

        def replica_step(inputs: Any, targets: Any) -> Any:
            loss, grads = gradients(inputs, targets)
            optimizer.apply(grads, model.trainable_variables)
            return loss

        @tf.function
        def train_step(batch: Any) -> Any:
            losses = self.strategy.run(replica_step, args=batch)
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        return train_step

    def epoch_dataset(self, epoch: int, skip: int = 0) -> tf.data.Dataset:
        """The training batches of ``epoch`` (global batch size), after ``skip`` batches."""
        dataset = self.pipeline(
            self.train_examples,
            training=True,
            batch_size=self.config.batch_size,
            seed=self.epoch_seed(epoch),
            repeat=True,
            mean=self.mean,
            shuffle_buffer=self.config.shuffle_buffer,
        )
        dataset = dataset.take(self.steps_per_epoch).skip(skip)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        options.deterministic = True
        # Without the autotuner (the parallel map still runs on every core): when `take` ends
        # an epoch it destroys the pipeline's iterator, which waits for the autotuner's
        # thread to wake up; that thread sleeps up to a minute, so epochs lasted 15-60 s
        # longer than their steps (measured on 2 cores: 3 of 4 epochs 25 -> 41 s).
        options.autotune.enabled = False
        return dataset.with_options(options)

    def epoch_seed(self, epoch: int) -> int:
        """Pipeline seed of ``epoch``."""
        return self.config.seed + EPOCH_SEED_STRIDE * epoch

    def batch_keys(self, epoch: int, batch: int) -> list[str]:
        """``sequence/frame(/view)`` keys of batch ``batch`` of ``epoch`` (tfau pipelines)."""
        from tfau.data.balancing import example_key

        keys = self.train_examples.map(example_key)
        if self.config.shuffle_buffer > 1:
            keys = keys.shuffle(
                self.config.shuffle_buffer,
                seed=self.epoch_seed(epoch),
                reshuffle_each_iteration=True,
            )
        size = self.config.batch_size
        keys = keys.repeat().skip(batch * size).take(size)
        return [k.decode() for k in keys.as_numpy_iterator()]

    def restore(self) -> int:
        """Restores the latest checkpoint, if any; returns the step it reached."""
        latest = self.manager.latest_checkpoint
        if latest is None and not self.chief:
            latest = tf.train.latest_checkpoint(os.path.join(self.run_dir, "checkpoints"))
        if latest is not None:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self.progress.message(f"Restored {latest} (step {int(self.step.numpy())}).")
        return int(self.step.numpy())

    def save(self) -> None:
        """Writes a checkpoint (non-chief workers write to a temporary folder they delete)."""
        self.manager.save(checkpoint_number=int(self.step.numpy()))
        if not self.chief:
            shutil.rmtree(self._checkpoint_dir, ignore_errors=True)

    def train(self) -> list[dict[str, Any]]:
        """Trains (resuming from the latest checkpoint) until ``config.epochs`` or early stop.

        Returns:
            The per-epoch metrics of the whole run (also in ``run_dir/metrics.jsonl``).

        Raises:
            NaNLossError: the loss became NaN or infinite; names the step, the batch and its
                examples.
        """
        try:
            return self._train()
        finally:
            self.progress.close()

    def _train(self) -> list[dict[str, Any]]:
        config = self.config
        if self.chief:
            os.makedirs(self.run_dir, exist_ok=True)
            config.save(os.path.join(self.run_dir, "config.json"))
        writer = (
            tf.summary.create_file_writer(os.path.join(self.run_dir, "logs", "train"))
            if self.chief
            else tf.summary.create_noop_writer()
        )
        step = self.restore()
        patience = config.early_stopping_patience
        while step < config.epochs * self.steps_per_epoch:
            if patience is not None and int(self.epochs_without_gain.numpy()) >= patience:
                self.progress.message(f"Early stopping at epoch {step // self.steps_per_epoch}.")
                break
            epoch, done = divmod(step, self.steps_per_epoch)
            dataset = self.strategy.experimental_distribute_dataset(self.epoch_dataset(epoch, done))
            start, losses = time.time(), []
            self.progress.epoch_begin(
                epoch, config.epochs, self.steps_per_epoch, done, config.batch_size
            )
            for batch_index, batch in enumerate(dataset, start=done):
                loss = float(self._train_step(batch))
                if not math.isfinite(loss):
                    keys = self.batch_keys(epoch, batch_index)
                    raise NaNLossError(
                        f"Loss is {loss} at step {step} (epoch {epoch}, batch {batch_index} of "
                        f"the epoch, batch size {config.batch_size}); examples: {keys}"
                    )
                step += 1
                self.step.assign(step)
                losses.append(loss)
                self.progress.step_end(loss)
                with writer.as_default(step=step):
                    tf.summary.scalar("loss", loss)
                    tf.summary.scalar("learning_rate", float(self._learning_rate()))
                if step % config.checkpoint_every == 0 and step % self.steps_per_epoch:
                    self.save()
            record = {
                "epoch": epoch,
                "step": step,
                "loss": float(np.mean(losses)) if losses else None,
                "seconds": round(time.time() - start, 3),
                "learning_rate": float(self._learning_rate()),
            }
            if self.data.validation is not None:
                self.progress.validating()
                scores = self.evaluate_examples(self.data.validation, "validation")
                record.update({f"val_{k}": v for k, v in scores.items() if k.startswith("mean")})
                if scores["mean_f1"] > float(self.best_score.numpy()):
                    self.best_score.assign(scores["mean_f1"])
                    self.epochs_without_gain.assign(0)
                    if self.chief:
                        self.model.save_weights(os.path.join(self.run_dir, "best.weights.h5"))
                else:
                    self.epochs_without_gain.assign_add(1)
            with writer.as_default(step=step):
                for key, value in record.items():
                    if key not in ("epoch", "step") and value is not None:
                        tf.summary.scalar(f"epoch/{key}", value)
            self.progress.epoch_end(record)
            if self.chief:
                self._write_record(record)
            self.save()
        writer.flush()
        return self.history()

    def _learning_rate(self) -> float:
        # The property evaluates the schedule at the current iteration; under a strategy the
        # constant rate is a distributed variable, which float() does not take.
        return float(tf.convert_to_tensor(self.optimizer.learning_rate))

    def _write_record(self, record: dict[str, Any]) -> None:
        # A kill between this write and the checkpoint replays the epoch: keep one record each.
        history = [r for r in self.history() if r["epoch"] < record["epoch"]]
        with open(os.path.join(self.run_dir, "metrics.jsonl"), "w") as f:
            for item in [*history, record]:
                f.write(json.dumps(item) + "\n")

    def history(self) -> list[dict[str, Any]]:
        """The per-epoch records of ``run_dir/metrics.jsonl``."""
        path = os.path.join(self.run_dir, "metrics.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    # ----------------------------------------------------------------------------------------
    # Evaluation

    def predict_split(self, split: str, batch_size: int | None = None) -> tuple[Any, Any]:
        """Labels and AU probabilities of every example of ``split`` (test-time pipeline).

        Returns:
            ``(labels, probabilities)``, both ``(examples, num_aus)`` numpy arrays.
        """
        import tfau.data

        examples = tfau.data.load_split(self.config.dataset, split, self.data_dir)
        return self.predict_examples(examples, batch_size)

    def predict_examples(
        self, examples: tf.data.Dataset, batch_size: int | None = None
    ) -> tuple[Any, Any]:
        """`predict_split` on TFDS examples (e.g. ``self.data.validation``)."""
        return predict_examples(
            self._predict,
            self.pipeline,
            examples,
            batch_size=batch_size or self.config.batch_size,
            mean=self.mean,
        )

    def evaluate(self, split: str | None = None) -> dict[str, Any]:
        """Per-AU F1-frame, accuracy and AUC on ``split`` (default ``config.test_split``).

        Returns:
            ``{"split", "aus", "f1", "accuracy", "auc", "mean_f1", "mean_accuracy",
            "mean_auc", "num_examples"}``; per-AU values are lists, AUC NaN where an AU
            has a single class.
        """
        split = split or self.config.test_split
        return self._scores(*self.predict_split(split), split)

    def evaluate_examples(self, examples: tf.data.Dataset, name: str) -> dict[str, Any]:
        """`evaluate` on TFDS examples; ``name`` fills the ``"split"`` entry."""
        return self._scores(*self.predict_examples(examples), name)

    def _scores(self, labels: Any, probabilities: Any, split: str) -> dict[str, Any]:
        return au_scores(labels, probabilities, split=split, au_names=self.au_names())

    def aus(self) -> tuple[int, ...]:
        """The AUs this run trains: ``config.aus``, else every AU of the dataset, as numbers.

        Raises:
            ValueError: the dataset has no ``standard_aus`` metadata.
        """
        aus = dataset_aus(self.config.dataset, self.data_dir)
        if self.au_columns is None:
            return aus
        return tuple(aus[column] for column in self.au_columns)

    def au_names(self) -> list[str]:
        """AU names of the run's label columns (``AU1``...), from the TFDS metadata."""
        try:
            aus = self.aus()
        except ValueError:
            aus = ()
        return au_column_names(aus, self.num_aus)
