"""Entry point of the ``tfau`` command line.

Each verb lives in its own module under ``tfau.cli`` and exposes ``register(subparsers)``,
which adds its sub-parser and sets ``func`` to the function that runs it. Verb modules import
their heavy dependencies inside that function, so ``tfau --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tfau.version import __version__

# Verb modules, in the order ``tfau --help`` lists them.
VERB_MODULES: tuple[str, ...] = (
    "tfau.cli.demo",
    "tfau.cli.synth",
    "tfau.cli.build",
    "tfau.cli.train",
    "tfau.cli.evaluate",
    "tfau.cli.cv",
    "tfau.cli.convert",
    "tfau.cli.export",
    "tfau.cli.predict",
    "tfau.cli.plot",
)


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser with every registered verb."""
    parser = argparse.ArgumentParser(
        prog="tfau",
        description=(
            "Facial Action Unit detection in TensorFlow/Keras: DRML, EAC-Net, AUNets, "
            "JAA-Net and PAttNet."
        ),
    )
    parser.add_argument("--version", action="version", version=f"tfau {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="<verb>")
    for module_name in VERB_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
