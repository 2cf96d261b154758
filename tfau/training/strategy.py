"""tf.distribute strategies by name, and which worker is the chief."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy ``name`` (see `tfau.training.config.STRATEGIES`).

    Args:
        name: ``"auto"`` (MultiWorkerMirroredStrategy when ``TF_CONFIG`` names a cluster,
            MirroredStrategy with several GPUs, else the default strategy), ``"default"``,
            ``"one_device"``, ``"mirrored"`` (every visible GPU, or every logical CPU when
            there is no GPU) or ``"multi_worker"`` (cluster from ``TF_CONFIG``).

    Returns:
        A ``tf.distribute.Strategy``.

    Example:
        >>> make_strategy("default").num_replicas_in_sync
        1
    """
    if name == "auto":
        if "cluster" in json.loads(os.environ.get("TF_CONFIG", "{}")):
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        '`strategy` must be one of "auto", "default", "one_device", "mirrored", '
        f'"multi_worker". Received: {name!r}'
    )


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> int:
    """This worker's task id (0 outside clusters)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id) if resolver is not None and resolver.task_id else 0
