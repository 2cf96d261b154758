"""``tfau demo``: the whole path on SynthAU, from files on disk to AUs on a video.

1. SynthAU writes a synthetic BP4D in the exact layout of the licensed corpus;
2. the real ``bp4d`` TFDS builder reads it, aligns the faces (JAA-Net's similarity transform)
   and stores the standard subject-exclusive parts;
3. a network is trained under the papers' 3-fold protocol (validation subjects held out of
   the training parts, best epoch restored, each test part tested once); the per-AU F1,
   accuracy and AUC table is printed beside the published numbers;
4. the model of the fold that tests part 3 is exported as a SavedModel;
5. SynthAU renders a 640x480 video of a person no fold has seen, in BP4D's eight tasks one
   after another (24 s, the face as large as in the data's frames), and ``tfau predict``
   reads it (face detection, tracking, alignment, the network, temporal smoothing) into an
   OpenFace-style CSV, scored against the video's ground truth;
6. plots: the video's AU timeline, DRML-style saliency maps and the F1 chart.

Sized for a 2-core CPU (about 7 minutes after the install on an AVX2-only AMD EPYC);
``--size``, ``--epochs``, ``--folds`` and ``--image_size`` scale it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

from tfau.cli.train import add_verbosity_arguments, verbosity

# The networks the demo can train.
DEMO_MODELS = ("DRML", "JAANet")
# Aligned face sizes with a predefined builder config.
FACE_SIZES = (112, 200)
# Frame rate and size of the demo video (BP4D's and DISFA's cameras: 25 and 20 fps).
VIDEO_FPS = 25.0
VIDEO_SIZE = (640, 480)
# SynthAU's AU deformations in the demo's data and video, as multiples of their labelled
# intensity: the demo's 82 px crops are about half the papers' 170-176 px, so twice the
# deformation keeps an AU's displacement in pixels near what the papers' inputs show
# (experiments/benchmarks/results/demo_learning.md: validation F1 / AUC 29.2 / 69.5 vs
# 24.8 / 66.3 after 4 epochs).
AU_SCALE = 2.0


def register(subparsers: Any) -> None:
    """Adds the ``demo`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "demo",
        help="SynthAU as BP4D -> TFDS -> 3-fold training -> SavedModel -> video AUs (minutes)",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workdir", default="runs/demo", help="where everything is written")
    parser.add_argument("--model", choices=DEMO_MODELS, default="DRML", help="network to train")
    parser.add_argument(
        "--size",
        choices=("tiny", "small", "demo"),
        default="demo",
        help="SynthAU preset: subjects, tasks and frames written (default: every subject)",
    )
    parser.add_argument(
        "--image_size", type=int, choices=FACE_SIZES, default=112, help="aligned face size"
    )
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per fold")
    parser.add_argument("--batch_size", type=int, default=16, help="training batch size")
    parser.add_argument(
        "--folds", nargs="+", default=None, help="test parts to run (default: all three)"
    )
    parser.add_argument(
        "--video_seconds",
        type=float,
        default=24.0,
        help="length of the video: the unseen person's eight BP4D tasks in equal parts",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data and training")
    add_verbosity_arguments(parser)
    parser.set_defaults(func=run)


def demo_config(model_name: str, image_size: int, epochs: int, batch_size: int) -> Any:
    """The demo's `TrainConfig`: a CPU-sized network on ``bp4d/aligned<image_size>``.

    DRML keeps its architecture (region layer, four convolutions, two fc layers) with
    narrower fc layers and no dropout, on 90% crops of the face resized to 10/9 of the input
    (82 of 91 px; the paper crops 170 of 200); JAA-Net keeps its modules at c=4, d=128 (the
    paper's c=8, d=512) on an 88% crop (176 of 200). Each keeps its paper's loss (DRML:
    multi-label sigmoid cross-entropy; JAA-Net: weighted softmax cross-entropy + weighted
    Dice + alignment). Both train with Adam, which gets further than the papers' SGD in the
    few hundred steps a demo affords: DRML warms up from 1e-4 to 1e-3 over half an epoch,
    then decays to 0 along a cosine (from 1e-3 at once, its BN-free conv4-conv7 stack can
    lose every ReLU in the first epoch; measured on SynthAU);
    JAA-Net keeps 3e-4.
    """

    from tfau.training.config import LossSpec, OptimizerSpec, TrainConfig

    if model_name == "DRML":
        optimizer = OptimizerSpec(
            name="adam", learning_rate=1e-3, schedule="cosine", warmup_epochs=0.5
        )
        # 82 px for the 112 px faces: in the time 90 px takes for 4 epochs it trains 5, and
        # learns more (validation subjects of fold part3, seeds 1 and 2: F1 / AUC 63.7 / 85.1
        # and 59.0 / 82.8 against 56.0 / 82.7 and 54.0 / 80.0; demo_learning.md).
        size = round(image_size * 0.75)
        size -= (size - 10) % 8  # conv1's output (input - 10) splits into the 8 x 8 grid
        # Crops of 90% of the face, resized so (82 of 91 px for the 112 px faces): random
        # crops of 90 of all 112 px shift the face by up to a fifth of its size and cut off
        # brows or chin whose AUs stay labelled (validation subjects, 4 epochs, batch 16:
        # F1 / AUC 70.4 / 87.2 against 45.0 / 78.3 at 90 px; demo_learning.md).
        source_size = round(size / 0.9)
        # No dropout: in the demo's few hundred steps DRML underfits, and the paper's 0.5 on
        # fc8 / fc9 held it back (validation subjects, 4 epochs: F1 / AUC 38.0 / 78.0
        # without, 27.3 / 69.3 with; experiments/benchmarks/results/demo_learning.md).
        model_kwargs: dict[str, Any] = {
            "input_shape": [size, size, 3],
            "fc_units": [512, 256],
            "dropout": 0.0,
        }
        losses: dict[str, Any] = {"au": LossSpec("sigmoid_cross_entropy")}
    else:
        optimizer = OptimizerSpec(name="adam", learning_rate=3e-4)
        size = int(image_size * 0.88) // 16 * 16  # two region blocks + pools, then / 4
        source_size = image_size
        model_kwargs = {"input_size": size, "c": 4, "d": 128}
        losses = {
            "au": [
                LossSpec("weighted_softmax_ce", kwargs={"au_weights": "auto"}),
                LossSpec("weighted_dice", kwargs={"au_weights": "auto"}),
            ],
            "landmarks": LossSpec("alignment", weight=0.5),
        }
    return TrainConfig(
        model=model_name,
        model_kwargs=model_kwargs,
        dataset=f"bp4d/aligned{image_size}",
        pipeline_kwargs={"input_size": size, "source_size": source_size},
        batch_size=batch_size,
        epochs=epochs,
        losses=losses,
        optimizer=optimizer,
        checkpoint_every=1000,
        keep_checkpoints=1,
    )


def _check_written(manual_dir: Path, preset: Any, seed: int) -> dict[str, Any]:
    """Reuses data an earlier demo wrote only if it was written as this demo writes it;
    returns its manifest."""
    from tfau.synth import MANIFEST_NAME

    path = manual_dir / MANIFEST_NAME
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    expected = {"preset": preset.name, "seed": seed, "au_scale": preset.au_scale}
    found = {key: manifest.get(key, 1.0 if key == "au_scale" else None) for key in expected}
    if found != expected:
        raise ValueError(
            f"{manual_dir} holds SynthAU data written with {found}, but this demo writes "
            f"{expected}. Delete that folder (and the workdir's tensorflow_datasets) or "
            "choose another --workdir."
        )
    return manifest


def video_face_width(data_frame_width: int) -> float:
    """Face width of the demo video, as a fraction of its width: the face as many pixels wide
    as in the demo's SynthAU BP4D frames (``data_frame_width`` px wide), as if one camera filmed
    them all. The alignment's linear warp (JAA-Net's, unfiltered) then resamples the video's
    faces as it resampled the training faces: a close-up (the face 2.6x wider, downsampled
    2.6x) cost the demo's model 3-4 F1 points on unseen people (demo_learning.md)."""
    from tfau.synth import DEFAULT_FACE_WIDTH

    return DEFAULT_FACE_WIDTH * data_frame_width / VIDEO_SIZE[0]


def _step(number: int, text: str) -> None:
    print(f"[{number}/6] {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Runs the demo; returns the exit code."""
    import keras
    import numpy as np
    import tensorflow_datasets as tfds

    import tfau.data
    import tfau.datasets
    from tfau.cli.main import main as cli_main
    from tfau.model_files import load_keras_model, read_model_info
    from tfau.plots.saliency import plot_saliency, saliency_maps
    from tfau.plots.timeline import plot_timeline, read_au_csv
    from tfau.synth import BP4D_AUS, BP4D_TASKS, SynthAU, get_preset, write_bp4d, write_video
    from tfau.training.paper_results import paper_result
    from tfau.training.protocol import MODEL_FILE, dataset_parts, run_cv

    keras.utils.set_random_seed(args.seed)
    workdir = Path(args.workdir)
    manual_dir = workdir / "BP4D"
    data_dir = workdir / "tensorflow_datasets"
    started = time.perf_counter()

    _step(1, f"SynthAU -> BP4D layout in {manual_dir} (preset {args.size!r})")
    preset = dataclasses.replace(get_preset(args.size), au_scale=AU_SCALE)
    if (manual_dir / "AUCoding").is_dir():
        manifest = _check_written(manual_dir, preset, args.seed)
    else:
        manifest = write_bp4d(manual_dir, size=preset, seed=args.seed, workers=2)

    _step(2, f"TFDS bp4d builder, faces aligned to {args.image_size} px")
    dataset = f"bp4d/aligned{args.image_size}"
    builder = tfds.builder(dataset, data_dir=str(data_dir))
    # SynthAU writes BP4D's quirks on purpose (coded frames without an image or landmarks):
    # one log line per skipped frame would bury the demo, so their counts are printed below.
    datasets_log = logging.getLogger("tfau.datasets")
    level = datasets_log.level
    datasets_log.setLevel(logging.ERROR)
    try:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
        )
    finally:
        datasets_log.setLevel(level)
    for name, split in sorted(builder.info.splits.items()):
        print(f"      {name}: {split.num_examples} faces")
    summary = (builder.info.metadata or {}).get("build_summary") or {}
    for reason, count in summary.get("skipped", {}).items():
        print(f"      skipped {count} frames ({reason}: {summary['reasons'][reason]})")

    config = demo_config(args.model, args.image_size, args.epochs, args.batch_size)
    cv_dir = workdir / "cv"
    _step(3, f"{args.model}: 3-fold subject-exclusive protocol, {args.epochs} epochs per fold")
    folds = run_cv(
        config,
        str(cv_dir),
        folds=args.folds,
        seeds=(args.seed,),
        data_dir=str(data_dir),
        paper=paper_result("drml" if args.model == "DRML" else "jaanet", "bp4d"),
        title=f"tfau demo: {args.model} on SynthAU (BP4D layout)",
        verbose=verbosity(args),
    )
    print((cv_dir / "results" / "results.md").read_text())

    fold = folds[-1].fold
    model_path = cv_dir / f"seed{args.seed}" / fold / MODEL_FILE
    export_dir = workdir / "exported" / args.model.lower()
    _step(4, f"SavedModel of the fold testing {fold}: {export_dir}")
    code = cli_main(["export", "--model_path", str(model_path), "--out", str(export_dir)])
    if code:
        return code

    video = workdir / "video"
    # Another SynthAU seed: a person no fold has seen, in a recording session of BP4D's eight
    # tasks (one task's few seconds hold few AU episodes: its F1 mostly measures that clip's
    # AU rates; demo_learning.md, 2026-12-06).
    subject = dataset_parts(dataset, str(data_dir))[fold][0]
    task_frames = max(1, round(args.video_seconds * VIDEO_FPS / len(BP4D_TASKS)))
    _step(5, f"SynthAU video of a person no fold has seen ({len(BP4D_TASKS)} tasks), tfau predict")
    generator = SynthAU(
        "bp4d",
        image_size=VIDEO_SIZE,
        seed=args.seed + 1,
        face_width=video_face_width(manifest["image_size"][0]),
        au_scale=AU_SCALE,
    )
    sequences = [generator.sequence(subject, task, task_frames) for task in BP4D_TASKS]
    video_path = write_video(video / "synthau.avi", sequences, fps=VIDEO_FPS)
    csv_path = video / "synthau_aus.csv"
    predict = ["predict", "--model", str(export_dir), "--input", str(video_path)]
    code = cli_main([*predict, "--out", str(csv_path), "--smoothing", "5", "--no_progress"])
    if code:
        return code
    tracks = read_au_csv(csv_path)
    truth = np.concatenate([seq.occurrence(BP4D_AUS) for seq in sequences]).astype(np.float32)
    if not tracks:
        print("      no face was found in the video")
    else:
        found, probability = _one_person(tracks)
        print(_video_table(truth[found], probability[found], found.sum(), len(truth)))

    plots = workdir / "plots"
    _step(6, f"Plots in {plots}")
    written = plot_timeline(csv_path, plots, smooth_window=5) if tracks else []
    model = load_keras_model(model_path)
    info = read_model_info(model_path)
    faces = next(
        iter(
            tfau.data.get_pipeline(info.model_name, **info.pipeline_kwargs)(
                tfau.data.load_split(dataset, fold, data_dir=str(data_dir)),
                training=False,
                batch_size=1,
                mean=info.mean,
            )
        )
    )[0]
    maps = saliency_maps(model, faces)
    written.append(
        plot_saliency(plots / "saliency.png", faces["image"][0].numpy(), maps[0], BP4D_AUS)
    )
    written.append(str(cv_dir / "results" / "f1_vs_paper.png"))
    for path in written:
        print(f"      {path}")

    print(f"Done in {time.perf_counter() - started:.0f} s. Everything is in {workdir}:")
    print(f"  SynthAU BP4D layout      {manual_dir}")
    print(f"  TFDS dataset             {data_dir}")
    print(f"  per-AU results, chart    {cv_dir / 'results'}")
    print(f"  trained model            {model_path}")
    print(f"  SavedModel               {export_dir}")
    print(f"  video and its AU CSV     {video}")
    print(f"  plots                    {plots}")
    return 0


def _one_person(tracks: dict[int, Any]) -> tuple[Any, Any]:
    """Frames where the video's one person was found, and their AU probabilities: the tracker
    may give them a new face id after a cut between tasks; where two faces were found in one
    frame, the more confident one."""
    import numpy as np

    tracks = list(tracks.values())
    confidence = np.stack(
        [np.where(t.success, np.nan_to_num(t.confidence, nan=0.0), -1.0) for t in tracks]
    )
    best = confidence.argmax(axis=0)
    frames = np.arange(best.size)
    found = np.stack([t.success for t in tracks])[best, frames]
    probability = np.stack([t.probability for t in tracks])[best, frames]
    return found, probability


def _video_table(truth: Any, probability: Any, found: int, total: int) -> str:
    """Per-AU F1 of the video's predictions (threshold 0.5) against its ground truth."""
    import numpy as np

    import tfau.metrics
    from tfau.synth import BP4D_AUS

    f1 = tfau.metrics.f1_frame(truth, probability)
    rate = truth.mean(axis=0)
    chance = 2 * rate / (1 + rate)
    lines = [
        f"      face found in {found} of {total} frames; F1 against the video's ground truth:",
        "      | AU | F1 | chance F1 | frames with the AU |",
        "      |---|---|---|---|",
    ]
    for i, au in enumerate(BP4D_AUS):
        lines.append(
            f"      | AU{au:02d} | {100 * f1[i]:.1f} | {100 * chance[i]:.1f} | "
            f"{int(truth[:, i].sum())} |"
        )
    lines.append(f"      | mean | {100 * np.nanmean(f1):.1f} | {100 * np.nanmean(chance):.1f} | |")
    return "\n".join(lines)
