"""``tfau build``: prepares a TFDS dataset (bp4d, disfa, synth_au) without the ``tfds`` CLI.

The ``tfds`` command line imports apache_beam for every sub-command; this verb calls TFDS's own
build machinery (``builder.download_and_prepare`` with a ``DownloadConfig(manual_dir=...)``)
directly, with TFDS's progress bars, and imports Beam only when ``--beam_runner`` is given.

Example:
    tfau build bp4d --manual_dir /data/BP4D --data_dir ~/tensorflow_datasets
    tfau build disfa --config unaligned224_right --manual_dir /data/DISFA
    tfau build synth_au --data_dir /tmp/tfds
"""

from __future__ import annotations

import argparse
from typing import Any

DATASETS = ("bp4d", "disfa", "synth_au")


def register(subparsers: Any) -> None:
    """Adds the ``build`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "build",
        help="build a TFDS dataset (bp4d, disfa, synth_au) from its manual download",
        description=(
            "Builds a tfau TFDS dataset with TFDS's build machinery (no apache_beam needed). "
            "The build summary (what was skipped and why) is logged at the end and stored in "
            "the dataset's metadata."
        ),
    )
    parser.add_argument("dataset", choices=DATASETS, help="dataset to build")
    parser.add_argument(
        "--config",
        default=None,
        help="builder config, e.g. aligned200 (default), unaligned224, aligned200_right",
    )
    parser.add_argument(
        "--manual_dir",
        default=None,
        help="folder holding the licensed download (bp4d, disfa; see --list_configs)",
    )
    parser.add_argument(
        "--data_dir", default=None, help="TFDS data dir (default: ~/tensorflow_datasets)"
    )
    parser.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="processes reading sequences (default: every core)",
    )
    parser.add_argument(
        "--beam_runner",
        default=None,
        help="run under Apache Beam with this runner (e.g. DirectRunner); needs tfau[beam]",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="delete an existing build of this config first"
    )
    parser.add_argument(
        "--list_configs",
        action="store_true",
        help="print the configs and manual download instructions, then exit",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Builds the dataset; returns the exit code (2 for a bad manual_dir)."""
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401  (registers the builders)
    from tfau.datasets.common import ManualDirError

    builder_cls = tfds.builder_cls(args.dataset)
    if args.list_configs:
        for config in builder_cls.BUILDER_CONFIGS:
            print(f"{config.name}: {config.description}")
        if builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS:
            print(builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return 0
    if builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS and args.manual_dir is None:
        print(
            f"error: {args.dataset} is read from a manual download: pass --manual_dir.\n"
            + builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS
        )
        return 2
    if args.manual_dir is not None:
        from etils import epath

        manual_dir = epath.Path(args.manual_dir)
        if not manual_dir.is_dir() or not any(manual_dir.iterdir()):
            print(
                f"error: --manual_dir {manual_dir} does not exist or is empty. Expected:\n"
                + (builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS or "")
            )
            return 2
    kwargs: dict[str, Any] = {"data_dir": args.data_dir, "num_workers": args.num_workers}
    if args.config:
        kwargs["config"] = args.config
    builder = tfds.builder(args.dataset, **kwargs)
    beam_options = None
    if args.beam_runner:
        from apache_beam.options.pipeline_options import PipelineOptions

        beam_options = PipelineOptions([f"--runner={args.beam_runner}"])
    download_config = tfds.download.DownloadConfig(
        manual_dir=args.manual_dir,
        beam_options=beam_options,
        download_mode=(
            tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
            if args.overwrite
            else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
        ),
    )
    if args.overwrite and builder.is_prepared():
        builder.data_path.rmtree()
        builder = tfds.builder(args.dataset, **kwargs)
    try:
        builder.download_and_prepare(download_config=download_config)
    except ManualDirError as error:
        print(f"error: {error}")
        return 2
    print(f"{builder.info.full_name} in {builder.data_dir}:")
    for name, split in sorted(builder.info.splits.items()):
        print(f"  {name}: {split.num_examples} examples")
    summary = builder.info.metadata.get("build_summary")
    if summary:
        skipped = summary.get("skipped") or {}
        print(f"  skipped: {skipped or 'nothing'}")
    return 0
