"""``tfau demo``: the whole path on SynthAU, from files on disk to per-AU F1.

1. SynthAU writes a synthetic BP4D in the exact layout of the licensed corpus;
2. the real ``bp4d`` TFDS builder reads it, aligns the faces (JAA-Net's similarity transform)
   and stores the standard subject-exclusive parts;
3. the network's tf.data pipeline feeds fold 3 (train on parts 1 + 2, test on part 3) to a
   tfau network trained with its paper's loss;
4. per-AU F1-frame, accuracy and AUC on the test part are printed beside chance level and
   written, with the trained model (``.keras``), to the work folder.

Everything is sized for a 2-core CPU (a few minutes); ``--size``, ``--epochs`` and
``--image_size`` scale it.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

# The networks the demo can train, with the fraction of the stored face their input crops
# (DRML: 170 of 200; JAA-Net: 176 of 200) and the sizes their builders need.
DEMO_MODELS = ("DRML", "JAANet")


def register(subparsers: Any) -> None:
    """Adds the ``demo`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "demo",
        help="write SynthAU as BP4D, build it with TFDS, train and test a network (minutes)",
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
    parser.add_argument("--image_size", type=int, default=112, help="aligned face size")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs")
    parser.add_argument("--batch_size", type=int, default=32, help="training batch size")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and training")
    parser.set_defaults(func=run)


def _input_size(model_name: str, image_size: int) -> int:
    """The network input cropped from an ``image_size`` face, valid for the builder."""
    if model_name == "DRML":
        # 170 of 200, with conv1's output (input - 10) divisible by the 8 x 8 region grid.
        size = round(image_size * 0.85)
        return size - (size - 10) % 8
    # 176 of 200, a multiple of 16 (two region blocks, each followed by a 2x pool, then /4).
    return int(image_size * 0.88) // 16 * 16


def _build_model(model_name: str, input_size: int, num_aus: int) -> Any:
    import tfau.models

    if model_name == "DRML":
        return tfau.models.get("DRML")(
            input_shape=(input_size, input_size, 3), num_aus=num_aus, fc_units=(512, 256)
        )
    return tfau.models.get("JAANet")(input_size=input_size, num_aus=num_aus, c=4, d=128)


def _compile(model: Any, model_name: str, labels: Any) -> None:
    import keras
    import numpy as np

    import tfau.losses

    if model_name == "DRML":
        losses: dict[str, Any] = {"au": tfau.losses.MultiLabelSigmoidCrossEntropy()}
    else:
        rates = tfau.losses.occurrence_rates(labels)
        # An AU absent from a small training set gets the largest weight seen, not 1 / 0.
        rates = np.where(rates > 0, rates, rates[rates > 0].min(initial=1.0))
        losses = {
            "au": tfau.losses.JAANetAULoss(
                au_weights=tfau.losses.jaanet_au_weights(rates).tolist()
            ),
            "landmarks": tfau.losses.AlignmentLoss(),
        }
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=losses,
        loss_weights={"au": 1.0, "landmarks": 0.5} if model_name == "JAANet" else None,
    )


def run(args: argparse.Namespace) -> int:
    """Runs the demo; returns the exit code."""
    from pathlib import Path

    import keras
    import numpy as np
    import tensorflow_datasets as tfds

    import tfau.data
    import tfau.datasets  # registers the TFDS builders
    import tfau.losses
    import tfau.metrics
    from tfau.datasets.common import FaceConfig
    from tfau.synth import BP4D_AUS, write_bp4d

    keras.utils.set_random_seed(args.seed)
    workdir = Path(args.workdir)
    manual_dir = workdir / "BP4D"
    started = time.perf_counter()

    print(f"[1/4] SynthAU -> BP4D layout in {manual_dir} (preset {args.size!r})")
    if not (manual_dir / "AUCoding").is_dir():
        write_bp4d(manual_dir, size=args.size, seed=args.seed, workers=2)

    print(f"[2/4] TFDS bp4d builder, faces aligned to {args.image_size} px")
    config = FaceConfig.make(aligned=True, image_size=args.image_size)
    builder = tfds.builder("bp4d", config=config, data_dir=str(workdir / "tensorflow_datasets"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    )
    for name, split in sorted(builder.info.splits.items()):
        print(f"      {name}: {split.num_examples} faces")

    print(f"[3/4] {args.model}: train on part1+part2, test on part3 (fold 3)")
    train_split = tfau.data.load_split(builder, "part1+part2")
    test_split = tfau.data.load_split(builder, "part3")
    input_size = _input_size(args.model, args.image_size)
    pipeline = tfau.data.get_pipeline(
        args.model, input_size=input_size, source_size=args.image_size
    )
    labels = tfau.data.collect_labels(train_split).labels
    extra: dict[str, Any] = {}
    if pipeline.config.normalization == "mean":
        extra["mean"] = tfau.data.image_mean(train_split)
    train = pipeline(
        train_split, training=True, batch_size=args.batch_size, seed=args.seed, **extra
    )
    test = pipeline(test_split, training=False, batch_size=64, **extra)

    model = _build_model(args.model, input_size, num_aus=len(BP4D_AUS))
    _compile(model, args.model, labels)
    model.fit(train, epochs=args.epochs, verbose=2)

    print("[4/4] Evaluation on part3")
    y_true = np.concatenate([targets["au"].numpy() for _, targets in test])
    y_prob = model.predict(test, verbose=0)["au"]
    f1 = tfau.metrics.f1_frame(y_true, y_prob)
    acc = tfau.metrics.accuracy(y_true, y_prob)
    auc = tfau.metrics.roc_auc(y_true, y_prob)
    known = y_true >= 0
    rate = np.where(known, y_true == 1, False).sum(0) / np.maximum(known.sum(0), 1)
    chance = 2 * rate / (1 + rate)  # F1 of always answering "present"

    lines = [
        f"# tfau demo: {args.model} on SynthAU (BP4D layout), fold 3",
        "",
        "| AU | F1 | chance F1 | accuracy | AUC |",
        "|---|---|---|---|---|",
    ]
    for i, au in enumerate(BP4D_AUS):
        lines.append(
            f"| AU{au:02d} | {f1[i]:.3f} | {chance[i]:.3f} | {acc[i]:.3f} | {auc[i]:.3f} |"
        )
    lines.append(
        f"| mean | {np.nanmean(f1):.3f} | {np.nanmean(chance):.3f} | {np.nanmean(acc):.3f} "
        f"| {np.nanmean(auc):.3f} |"
    )
    table = "\n".join(lines)
    print(table)
    (workdir / "results.md").write_text(table + "\n")
    model_path = workdir / f"{args.model.lower()}.keras"
    model.save(model_path)
    print(f"Model: {model_path}; table: {workdir / 'results.md'}")
    print(f"Done in {time.perf_counter() - started:.0f} s.")
    return 0
