"""``tfau cv``: the papers' 3-fold subject-exclusive protocol with validation subjects."""

from __future__ import annotations

import argparse
import os

from tfau.cli.train import add_verbosity_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``cv`` verb."""
    parser = subparsers.add_parser(
        "cv",
        help="3-fold subject-exclusive cross-validation with a results folder",
        description=(
            "Trains one model per fold (named by its test part) and seed (a config's stages "
            "one after the other: the papers' staged trainings), chooses the epoch (of the "
            "last stage) on validation subjects held out of the training parts, tests once, "
            "and writes per-AU F1 / accuracy / AUC per fold with mean +- std beside the "
            "paper's numbers (CSV, Markdown, PNG) into <run_dir>/results."
        ),
    )
    parser.add_argument(
        "--config",
        required=True,
        help="an experiments/ name (drml_bp4d, jaanet_synth, ...), a built-in config name "
        "or a JSON/YAML file",
    )
    parser.add_argument("--run_dir", required=True, help="output folder")
    parser.add_argument("--data_dir", default=None, help="TFDS data directory")
    parser.add_argument("--folds", nargs="+", default=None, help="test parts (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds (default: 0)")
    parser.add_argument(
        "--validation_fraction",
        type=float,
        default=0.2,
        help="fraction of each training part's subjects held out (default: 0.2)",
    )
    parser.add_argument(
        "--paper", default=None, help="published numbers to compare with, e.g. drml/bp4d"
    )
    add_verbosity_arguments(parser)
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Runs the protocol and prints the summary table."""
    from tfau.cli.train import apply_overrides, load_config, parse_overrides, verbosity
    from tfau.training.paper_results import paper_result
    from tfau.training.protocol import run_cv

    config, paper, title = load_config(args.config)
    if args.paper:
        paper = paper_result(*args.paper.split("/"))
    config = apply_overrides(config, parse_overrides(args.overrides))
    run_cv(
        config,
        args.run_dir,
        folds=args.folds,
        seeds=args.seeds,
        validation_fraction=args.validation_fraction,
        data_dir=args.data_dir,
        paper=paper,
        title=title,
        verbose=verbosity(args),
    )
    with open(os.path.join(args.run_dir, "results", "results.md")) as f:
        print(f.read())
    return 0
