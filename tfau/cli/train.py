"""``tfau train``: trains a model from a config name or file into a run folder.

Overrides are ``key=value`` pairs (values parsed as JSON when they can be, dotted keys reach
nested fields). Re-running the same command resumes from the run folder's last checkpoint.
A config with ``stages`` (the papers' staged trainings: JAA-Net, EAC-Net, HydraNet, AUNets'
domain adaptation, JAA-Net's BP4D -> DISFA start) trains them one after the other, each in its
own folder ``<run_dir>/<index>_<name>`` (`tfau.training.run.run_training`), and saves the
final model as ``<run_dir>/model.keras`` with its ``model.json`` (for ``tfau export`` /
``tfau predict``); ``stages=null`` turns them off.

Progress: a bar per epoch in a terminal, a plain line every 30 s in a log file, nothing with
``--quiet`` (``--verbose 2``: one line per epoch); the per-epoch records are in
``<run_dir>/metrics.jsonl`` whatever the verbosity.

Example:
    tfau train --config synth_drml_tiny --run_dir /tmp/run --data_dir /tmp/tfds epochs=3
    tfau train --config drml_bp4d --run_dir runs/drml
    tfau train --config my_config.json --run_dir /tmp/run optimizer.learning_rate=0.01
    tfau train --config jaanet_synth --run_dir /tmp/jaanet --data_dir /tmp/tfds
    tfau train --config eacnet_synth_staged --run_dir /tmp/eacnet --data_dir /tmp/tfds
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def register(subparsers: Any) -> None:
    """Adds the ``train`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "train",
        help="train a model from a config (resumes an interrupted run)",
        description="Trains a tfau model with tfau.training.Trainer; a config with stages "
        "(the papers' staged trainings) trains them in turn in <run_dir>/<index>_<name>.",
    )
    parser.add_argument(
        "--config",
        required=True,
        help="an experiments/ name (drml_bp4d, jaanet_synth, ...), a built-in config name or a "
        "JSON/YAML file",
    )
    parser.add_argument("--run_dir", default=None, help="output folder (default: config's)")
    parser.add_argument("--data_dir", default=None, help="TFDS data directory")
    add_verbosity_arguments(parser)
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    parser.set_defaults(func=run)


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--verbose {0,1,2}`` (``keras.Model.fit``'s ``verbose``), read by
    `verbosity`."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="training progress: 0 none, 1 a progress bar per epoch (a plain line every 30 s "
        "when the output is not a terminal), 2 one line per epoch (default: 1)",
    )
    group.add_argument(
        "--quiet", action="store_true", help="print no training progress (--verbose 0)"
    )


def verbosity(args: argparse.Namespace) -> int | str:
    """The ``verbose`` argument of the training functions from `add_verbosity_arguments`."""
    if args.quiet:
        return 0
    return "auto" if args.verbose is None else args.verbose


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "optimizer.name=adam"]`` -> ``{"epochs": 3, "optimizer.name": "adam"}``."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"Overrides must be key=value. Received: {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def load_config(name: str) -> tuple[Any, Any, str | None]:
    """`tfau.cli._configs.resolve_config`; an invalid config file stops with its message.

    Raises:
        SystemExit: an unknown name, or a file whose config is invalid (the config's message).
    """
    from tfau.cli._configs import resolve_config

    try:
        return resolve_config(name)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: invalid config {name!r}: {error}") from None


def apply_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """``config.replace(**overrides)``; a bad key or value stops with a one-line message.

    Raises:
        SystemExit: an unknown key or an invalid value (the config's message).
    """
    if not overrides:
        return config
    try:
        return config.replace(**overrides)
    except (KeyError, TypeError, ValueError) as error:
        raise SystemExit(f"error: bad override: {error.args[0]}") from None


def run(args: argparse.Namespace) -> int:
    """Runs ``tfau train``."""
    from tfau.training.protocol import MODEL_FILE, save_run_model
    from tfau.training.run import run_training

    config, _, _ = load_config(args.config)
    overrides = parse_overrides(args.overrides)
    if args.run_dir:
        overrides["run_dir"] = args.run_dir
    config = apply_overrides(config, overrides)
    results = run_training(config, data_dir=args.data_dir, verbose=verbosity(args))
    trainer = results[-1]["trainer"]
    # A staged run has no checkpoint of its own: its model file is the final model.
    if config.stages and trainer.chief:
        save_run_model(trainer, os.path.join(config.run_dir, MODEL_FILE), data_dir=args.data_dir)
    return 0
