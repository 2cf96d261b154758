"""``tfau synth``: writes a SynthAU dataset in the BP4D or DISFA on-disk layout."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``synth`` verb."""
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic faces with action units in the BP4D or DISFA layout",
        description=(
            "Writes SynthAU data (procedural faces whose action units move the right facial "
            "regions) exactly as BP4D or DISFA lie on disk, quirks included, with a "
            "synthau_manifest.json of what was generated."
        ),
    )
    parser.add_argument(
        "--layout",
        required=True,
        choices=("bp4d", "fera2015", "disfa"),
        help="on-disk layout: bp4d, its FERA-2015 copy (fera2015), or disfa",
    )
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "--size",
        default="tiny",
        choices=("tiny", "small", "demo"),
        help="tiny: 3 subjects, a few frames; small: 6 subjects; demo: every subject "
        "(default: tiny)",
    )
    parser.add_argument("--seed", type=int, default=0, help="master seed (default: 0)")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.25,
        help="frame size as a fraction of the real one (default: 0.25)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes writing in parallel (default: 2)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Writes the layout and prints a one-line summary."""
    from tfau.synth.writers import write_layout

    if args.workers < 1:
        raise SystemExit(f"--workers must be at least 1. Received: {args.workers}")
    manifest = write_layout(
        args.layout,
        args.out,
        size=args.size,
        seed=args.seed,
        scale=args.scale,
        workers=args.workers,
        progress=not args.quiet,
    )
    totals = manifest["totals"]
    counts = ", ".join(f"{k}={v}" for k, v in totals.items() if not isinstance(v, dict))
    print(f"SynthAU {args.layout} ({args.size}, seed {args.seed}) written to {args.out}: {counts}")
    return 0
