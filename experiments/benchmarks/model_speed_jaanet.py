"""JAA-Net training and inference speed at the paper's size (176 x 176, 12 AUs) on this CPU.

Times one training step (forward, the paper's losses eq. 1 with lambda1 = 0.5 and
lambda2 = 1e-7, backward, SGD with momentum, inside a ``tf.function``) and one inference
call, each as the median over ``--steps`` after a warm-up, with 2 intra-op threads (the
reference setting of ``performance.md``: the authors' PyTorch code takes 1586-1686 ms per
training step of batch 8, 99-115 ms per image at batch 1, 2767-2859 ms per batch of 32).

The local AU branches (10.6 of the 17.5 forward GFLOP) run in two implementations with the
same weights, ``per_au`` (one native convolution per AU) and ``grouped`` (one grouped
native convolution for all AUs); their training steps are interleaved step by step so that
load changes on a shared machine hit both alike. Prints a Markdown table and ``uptime``.

Usage::

    python experiments/benchmarks/model_speed_jaanet.py --batch 8 --steps 5
"""

import argparse
import os
import statistics
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

from tfau import losses
from tfau.layers.local_au_branches import LocalAUBranches
from tfau.models.jaanet import JAANet

AUTHORS_MS = {"train 8": (1586, 1686), "infer 1": (99, 115), "infer 32": (2767, 2859)}


def make_train_step(model: keras.Model):
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    au_loss = losses.JAANetAULoss()

    @tf.function
    def step(images, labels, landmarks):
        with tf.GradientTape() as tape:
            outputs = model({"image": images}, training=True)
            loss = (
                au_loss(labels, outputs["au"])
                + 0.5 * tf.reduce_mean(losses.alignment_loss(landmarks, outputs["landmarks"]))
                + 1e-7
                * tf.reduce_mean(
                    losses.attention_refinement_loss(
                        outputs["attention_initial"], outputs["attention"]
                    )
                )
            )
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss

    return step


def straightforward_branches(num_aus: int, filters=(96, 128, 160)) -> keras.Model:
    """The per-AU loop of the authors' code: slice a map, multiply, own Keras layers, sum."""
    features = keras.Input((44, 44, 64))
    maps = keras.Input((44, 44, num_aus))
    outputs = []
    for au in range(num_aus):
        au_map = keras.layers.Reshape((44, 44, num_aus, 1))(maps)
        au_map = keras.layers.Cropping3D(((0, 0), (0, 0), (au, num_aus - au - 1)))(au_map)
        x = keras.layers.Multiply()([features, keras.layers.Reshape((44, 44, 1))(au_map)])
        for stage_filters in filters:
            for _ in range(2):
                x = keras.layers.Conv2D(stage_filters, 3, padding="same")(x)
                x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
            x = keras.layers.MaxPooling2D(2)(x)
        outputs.append(x)
    return keras.Model([features, maps], keras.layers.Add()(outputs))


def make_branch_step(model: keras.Model):
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)

    @tf.function
    def step(features, maps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model([features, maps], training=True) ** 2)
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss

    return step


def benchmark_branches(batch: int, steps: int, threads: int) -> None:
    """Local AU branches alone (12 AUs, 44 x 44 x 64 pool2): the two implementations against
    the straightforward per-AU Keras loop, training steps interleaved."""
    rng = np.random.default_rng(0)
    features = tf.constant(rng.normal(size=(batch, 44, 44, 64)).astype("float32"))
    maps = tf.constant(rng.uniform(size=(batch, 44, 44, 12)).astype("float32"))
    models = {"keras per-AU loop": straightforward_branches(12)}
    for implementation in ("per_au", "grouped"):
        inputs = [keras.Input((44, 44, 64)), keras.Input((44, 44, 12))]
        branches = LocalAUBranches(implementation=implementation)(inputs)
        models[f"LocalAUBranches {implementation}"] = keras.Model(inputs, branches)
    step_functions = {name: make_branch_step(model) for name, model in models.items()}
    for step in step_functions.values():
        for _ in range(2):
            timed(step, features, maps)
    times = {name: [] for name in models}
    for _ in range(steps):
        for name, step in step_functions.items():
            times[name].append(timed(step, features, maps))
    print(f"\n| local AU branches, train batch {batch} | wall ms | CPU ms / {threads} threads |")
    print("|---|---|---|")
    for name in models:
        ms, cpu_ms = medians(times[name])
        print(f"| {name} | {ms:.0f} | {cpu_ms / threads:.0f} |")


def build_variant(variant: str) -> keras.Model:
    """JAA-Net at 176 x 176 with 12 AUs in one of the benchmark's variants."""
    if variant in ("per_au", "grouped"):
        return JAANet(local_implementation=variant)
    if variant == "stride2":
        return JAANet(local_first_stride=2)
    if variant == "bf16":
        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            return JAANet()
        finally:
            keras.config.set_dtype_policy(policy)
    raise ValueError(f"Unknown variant {variant!r}: use per_au, grouped, bf16 or stride2.")


def make_inference(model: keras.Model):
    @tf.function
    def infer(images):
        return model({"image": images}, training=False)["au"]

    return infer


def timed(function, *args) -> tuple[float, float]:
    """Wall-clock and process CPU milliseconds of one call (CPU time / threads estimates the
    wall time of an idle machine when other jobs share the cores)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    tf.nest.map_structure(lambda t: t.numpy(), result)
    return (time.perf_counter() - start) * 1000.0, (time.process_time() - start_cpu) * 1000.0


def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument(
        "--variants",
        default="per_au,grouped",
        help="comma-separated variants: per_au, grouped (local branch implementations), "
        "bf16 (per_au under the mixed_bfloat16 policy), stride2 (per_au with the Caffe "
        "model's stride-2 first local convolution)",
    )
    parser.add_argument("--no-inference", action="store_true", help="skip inference timing")
    parser.add_argument(
        "--branches", action="store_true", help="also time the local AU branches alone"
    )
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(args.batch, 176, 176, 3)).astype("float32"))
    labels = tf.constant(rng.integers(0, 2, size=(args.batch, 12)).astype("float32"))
    landmarks = tf.constant(rng.uniform(40, 136, size=(args.batch, 49, 2)).astype("float32"))

    variants = args.variants.split(",")
    models = {v: build_variant(v) for v in variants}
    steps = {v: make_train_step(m) for v, m in models.items()}
    print(f"parameters: {models[variants[0]].count_params():,}")
    for v in variants:  # warm-up (tracing) and one more step
        for _ in range(2):
            timed(steps[v], images, labels, landmarks)
    times = {v: [] for v in variants}
    for _ in range(args.steps):
        for v in variants:
            times[v].append(timed(steps[v], images, labels, landmarks))

    low, high = AUTHORS_MS["train 8"]
    print(
        f"\n| setting | wall ms per step | images/s | CPU ms / {args.threads} threads "
        "| authors' PyTorch ms |"
    )
    print("|---|---|---|---|---|")
    for v in variants:
        ms, cpu_ms = medians(times[v])
        print(
            f"| train {v}, batch {args.batch} | {ms:.0f} | {args.batch * 1000 / ms:.1f} | "
            f"{cpu_ms / args.threads:.0f} | {low}-{high} (batch 8) |"
        )

    if not args.no_inference:
        infer = make_inference(models[variants[0]])
        for batch in (1, 32):
            batch_images = tf.constant(rng.normal(size=(batch, 176, 176, 3)).astype("float32"))
            for _ in range(2):
                timed(infer, batch_images)
            ms, cpu_ms = medians([timed(infer, batch_images) for _ in range(args.steps)])
            low, high = AUTHORS_MS[f"infer {batch}"]
            print(
                f"| infer {variants[0]}, batch {batch} | {ms:.0f} | {batch * 1000 / ms:.1f} | "
                f"{cpu_ms / args.threads:.0f} | {low}-{high} (same batch) |"
            )
    if args.branches:
        benchmark_branches(args.batch, args.steps, args.threads)
    print("\nuptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
