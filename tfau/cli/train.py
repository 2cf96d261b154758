"""``tfau train``: trains a model from a config name or file into a run folder.

Overrides are ``key=value`` pairs (values parsed as JSON when they can be, dotted keys reach
nested fields). Re-running the same command resumes from the run folder's last checkpoint.

Example:
    tfau train --config synth_drml_tiny --run_dir /tmp/run --data_dir /tmp/tfds epochs=3
    tfau train --config drml_bp4d --run_dir runs/drml
    tfau train --config my_config.json --run_dir /tmp/run optimizer.learning_rate=0.01
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Adds the ``train`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "train",
        help="train a model from a config (resumes an interrupted run)",
        description="Trains a tfau model with tfau.training.Trainer.",
    )
    parser.add_argument(
        "--config",
        required=True,
        help="an experiments/ name (drml_bp4d, jaanet_synth, ...), a built-in config name or a "
        "JSON/YAML file",
    )
    parser.add_argument("--run_dir", default=None, help="output folder (default: config's)")
    parser.add_argument("--data_dir", default=None, help="TFDS data directory")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    """Runs ``tfau train``."""
    from tfau.cli._configs import resolve_config
    from tfau.training import Trainer

    config, _, _ = resolve_config(args.config)
    overrides = parse_overrides(args.overrides)
    if args.run_dir:
        overrides["run_dir"] = args.run_dir
    config = config.replace(**overrides) if overrides else config
    trainer = Trainer(config, data_dir=args.data_dir)
    trainer.train()
    return 0
