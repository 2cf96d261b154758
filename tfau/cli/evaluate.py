"""``tfau evaluate``: per-AU F1 / accuracy / AUC of a trained run on a split.

Example:
    tfau evaluate --run_dir /tmp/run --split part3 --data_dir /tmp/tfds
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def register(subparsers: Any) -> None:
    """Adds the ``evaluate`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained run on a split (per-AU F1, accuracy, AUC)",
        description=(
            "Evaluates a run folder's model.keras when it has one (a staged `tfau train` run, a "
            "`tfau cv` fold), else restores its latest checkpoint."
        ),
    )
    parser.add_argument(
        "--run_dir", required=True, help="folder written by `tfau train` or a `tfau cv` fold"
    )
    parser.add_argument("--split", default=None, help="split (default: the config's test split)")
    parser.add_argument("--data_dir", default=None, help="TFDS data directory")
    parser.add_argument("--output", default=None, help="JSON file for the results")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Runs ``tfau evaluate``: prints a per-AU table and writes JSON results."""
    from tfau.training import TrainConfig, Trainer
    from tfau.training.trainer import evaluate_model_file

    config_path = os.path.join(args.run_dir, "config.json")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"No config.json in {args.run_dir!r}: is it a `tfau train` run?")
    # A staged run's folder holds no checkpoint of its own (each stage has one, with optimizer
    # slots of its modules only): its final model is model.keras, as in a CV fold's folder,
    # and it is the last stage's network, pipeline and AUs.
    config = TrainConfig.load(config_path)
    if config.stages:
        last = f"{len(config.stages)}_{config.stages[-1].name}"
        if os.path.exists(os.path.join(args.run_dir, last, "config.json")):
            config = TrainConfig.load(os.path.join(args.run_dir, last, "config.json"))
    config = config.replace(strategy="default", stages=None)
    model_path = os.path.join(args.run_dir, "model.keras")
    if os.path.exists(model_path):
        # The model and its model.json (AUs, training mean): no Trainer, no training data.
        results = evaluate_model_file(model_path, config, args.split, args.data_dir)
    else:
        # A checkpoint is the Trainer's (model, optimizer, step); the mean is its data's.
        trainer = Trainer(config, data_dir=args.data_dir, run_dir=args.run_dir)
        if trainer.restore() == 0:
            checkpoints = os.path.join(args.run_dir, "checkpoints")
            raise FileNotFoundError(
                f"No model.keras in {args.run_dir!r} and no checkpoint in {checkpoints!r}."
            )
        results = trainer.evaluate(args.split)
    print(f"{'AU':>6} {'F1':>6} {'Acc':>6} {'AUC':>6}")
    columns = (results["aus"], results["f1"], results["accuracy"], results["auc"])
    for au, f1, acc, auc in zip(*columns, strict=True):
        print(f"{au:>6} {f1:6.3f} {acc:6.3f} {auc:6.3f}")
    mean_row = (results["mean_f1"], results["mean_accuracy"], results["mean_auc"])
    print(f"{'mean':>6} {mean_row[0]:6.3f} {mean_row[1]:6.3f} {mean_row[2]:6.3f}")
    output = args.output or os.path.join(args.run_dir, f"eval_{results['split']}.json")
    with open(output, "w") as f:
        json.dump(results, f, indent=2)
    return 0
