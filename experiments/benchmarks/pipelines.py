"""Examples per second of each network's tf.data pipeline, next to the network's training rate.

Builds two small SynthAU TFDS datasets at the papers' sizes into a temporary data_dir
(``aligned200``: 200 x 200 JAA-Net-aligned faces; ``unaligned224_pairs``: 224 x 224 face boxes
with the previous frame), caches the encoded split in memory and repeats it, so that the
numbers measure the pipeline (JPEG decoding, crops, flips, normalisation, patches, DIS optical
flow) and not the disk. Each pipeline runs in training mode (random crops and flips) with its
paper's batch size, for ``--seconds`` after a warm-up batch.

The goal (issue 4): the pipeline is never the bottleneck, at least 2x the network's training
throughput. Training rates are measured on the full-size network with ``--train`` (a few SGD
steps at the same batch size, after one warm-up step), otherwise the authors' code timings of
reference/performance.md are shown where they exist. ``CPU share`` is network rate / pipeline
rate: the fraction of the machine that feeding the network takes (both run on the same cores).

Usage::

    python experiments/benchmarks/pipelines.py                 # pipelines only
    python experiments/benchmarks/pipelines.py --train         # + full-size training rates
    python experiments/benchmarks/pipelines.py --train DRML JAANet   # ... of some networks
    python experiments/benchmarks/pipelines.py --only JAANet DRML --seconds 10
"""

import argparse
import inspect
import os
import platform
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import tensorflow as tf
import tensorflow_datasets as tfds
from tfau.datasets.synth_au.synth_au_dataset_builder import SynthAUConfig

import tfau
import tfau.data

#: (pipeline / model name, dataset config, paper batch size, pipeline overrides).
CASES = (
    ("DRML", "aligned200", 16, {}),
    ("JAANet", "aligned200", 8, {}),
    ("PAttNet", "aligned200", 50, {}),
    ("FVGG", "unaligned224_pairs", 16, {}),
    ("EACNet", "unaligned224_pairs", 16, {}),
    ("AUNet", "unaligned224_pairs", 16, {}),
    ("AUNetFlow", "unaligned224_pairs", 16, {}),
    ("AUNetHorizontal", "unaligned224_pairs", 16, {}),
)
#: Authors' code, training images/s on this machine (reference/performance.md).
AUTHORS_TRAIN_RATE = {"DRML": "33 (authors, batch 16)", "JAANet": "5 (authors, batch 8)"}
SUBJECTS = ("F001", "F003", "F004")
TASKS = ("T1", "T2")
FRAMES = 16


def _build(data_dir: str) -> dict[str, str]:
    configs = {
        "aligned200": SynthAUConfig(
            name="bench_aligned200",
            subjects=SUBJECTS,
            tasks=TASKS,
            num_frames=FRAMES,
        ),
        "unaligned224_pairs": SynthAUConfig(
            name="bench_unaligned224_pairs",
            subjects=SUBJECTS,
            tasks=TASKS,
            num_frames=FRAMES,
            aligned=False,
            image_size=224,
            pairs=True,
        ),
    }
    names = {}
    for key, config in configs.items():
        builder = tfds.builder("synth_au", config=config, data_dir=data_dir)
        builder.download_and_prepare()
        names[key] = f"synth_au/{config.name}"
    return names


def _pipeline_rate(name, dataset, batch_size, mean, seconds):
    pipeline = tfau.data.get_pipeline(name)
    stream = pipeline(dataset, training=True, batch_size=batch_size, seed=0, repeat=True, mean=mean)
    iterator = iter(stream)
    next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += batch_size
    return count / (time.perf_counter() - start)


def _train_rate(name, dataset, batch_size, mean, steps):
    keras.utils.set_random_seed(0)
    model = tfau.models.get(name)()
    stream = tfau.data.get_pipeline(name)(
        dataset, training=True, batch_size=batch_size, seed=0, repeat=True, mean=mean
    )
    _, targets = stream.element_spec
    losses = {
        "au": tfau.losses.MultiLabelSigmoidCrossEntropy(),
        "landmarks": tfau.losses.AlignmentLoss(),
    }
    # The builder's default number of AUs (AUNets: one network per AU); None means 12.
    parameter = inspect.signature(tfau.models.get(name)).parameters.get("num_aus")
    num_aus = parameter.default if parameter is not None and parameter.default else 12
    if num_aus != 12:
        stream = tfau.data.get_pipeline(name)(
            dataset,
            training=True,
            batch_size=batch_size,
            seed=0,
            repeat=True,
            mean=mean,
            au_indices=list(range(num_aus)),
        )
    # Batches are cached so that only the training step is timed.
    batches = list(stream.take(2).cache())
    model.compile(
        optimizer=keras.optimizers.SGD(1e-3, momentum=0.9),
        loss={k: losses[k] for k in targets},
    )
    model.train_on_batch(*batches[0])
    start = time.perf_counter()
    for step in range(steps):
        model.train_on_batch(*batches[step % 2])
    return steps * batch_size / (time.perf_counter() - start)


def _dis_ms(dataset, pairs=50):
    examples = list(dataset.take(pairs).as_numpy_iterator())
    frames = [
        (tf.io.decode_jpeg(e["previous_image"]).numpy(), tf.io.decode_jpeg(e["image"]).numpy())
        for e in examples
    ]
    tfau.data.dis_flow(*frames[0])
    start = time.perf_counter()
    for previous, current in frames:
        tfau.data.dis_flow(previous, current)
    return 1000 * (time.perf_counter() - start) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="timing per pipeline")
    parser.add_argument(
        "--train",
        nargs="*",
        help="time full-size training steps of these networks (no name: all)",
    )
    parser.add_argument("--steps", type=int, default=3, help="training steps timed")
    parser.add_argument("--only", nargs="*", help="pipeline names to run")
    args = parser.parse_args()

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {load}")
    print(f"TensorFlow {tf.__version__}, tfau {tfau.__version__}\n")
    with tempfile.TemporaryDirectory() as data_dir:
        names = _build(data_dir)
        splits = {
            key: tfau.data.load_split(name, "part1+part2+part3", data_dir=data_dir).cache()
            for key, name in names.items()
        }
        for split in splits.values():  # fill the caches
            for _ in split:
                pass
        mean = tfau.data.image_mean(splits["aligned200"])
        print(
            f"DIS MEDIUM optical flow, 224 px pair: "
            f"{_dis_ms(splits['unaligned224_pairs']):.2f} ms (one thread)\n"
        )
        header = (
            "| pipeline | input | batch | pipeline ex/s | network train ex/s | ratio | CPU share |"
        )
        print(header)
        print("|---|---|---|---|---|---|---|")
        for name, key, batch_size, _ in CASES:
            if args.only and name not in args.only:
                continue
            config = tfau.data.get_config(name)
            rate = _pipeline_rate(name, splits[key], batch_size, mean, args.seconds)
            shape = (
                "patches 9x100x100"
                if "patches" in config.inputs
                else (f"{'+'.join(config.inputs)} {config.input_size}")
            )
            if args.train is not None and (not args.train or name in args.train):
                train = _train_rate(name, splits[key], batch_size, mean, args.steps)
                train_text = f"{train:.1f}"
                ratio = f"{rate / train:.1f}x"
                share = f"{100 * train / rate:.0f}%"
            else:
                train_text = AUTHORS_TRAIN_RATE.get(name, "-")
                authors = float(train_text.split()[0]) if name in AUTHORS_TRAIN_RATE else None
                ratio = f"{rate / authors:.1f}x" if authors else "-"
                share = f"{100 * authors / rate:.0f}%" if authors else "-"
            print(
                f"| {name} | {shape} | {batch_size} | {rate:.0f} | {train_text} | {ratio} | "
                f"{share} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
