"""Training and inference speed of the paper networks at their papers' input sizes on this CPU.

For each network (``tfau.models`` registry name, at its paper's input size: DRML 170, JAA-Net
176, EAC-Net / AUNets 224, PAttNet 9 x 100 x 100) times

- one training step: forward, loss, backward and an SGD-with-momentum update (as the papers)
  inside one compiled ``tf.function``; JAA-Net trains on its paper losses (eq. 1 with
  lambda1 = 0.5 and lambda2 = 1e-7), the others on a sigmoid cross-entropy of their ``"au"``
  output against random labels;
- inference (``training=False``) at batch 1 and 32,

each as the median of ``--steps`` calls after two warm-up calls, with 2 intra-op threads (the
setting of ``/work/shared/reference/performance.md``, whose authors' PyTorch numbers are
printed beside ours with the ratio ``authors' ms / tfau ms``: above 1 means tfau is faster).
The variants' steps are interleaved call by call so that load changes on a shared machine hit
them alike; the process CPU time divided by the threads is printed beside the wall time (it
estimates the wall time of an idle machine). ``uptime`` is printed at the start and the end.

A variant is ``Name`` or ``Name:key=value,key=value``: builder keyword arguments (Python
literals) plus three benchmark keys, ``jit=1`` (``jit_compile=True`` for the train step and
inference), ``policy=mixed_bfloat16`` (Keras dtype policy while building) and ``batch=N``.

Usage::

    python experiments/benchmarks/models.py --models DRML JAANet --steps 5
    python experiments/benchmarks/models.py --models JAANet JAANet:local_implementation=grouped
    python experiments/benchmarks/models.py --models JAANet:jit=1 --no-inference
"""

import argparse
import ast
import os
import statistics
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

from tfau import losses, models

#: Paper input of each network (image side, or the PAttNet patch stack shape).
PAPER_INPUT = {
    "DRML": {"input_shape": (170, 170, 3)},
    "JAANet": {"input_size": 176},
    "FVGG": {"input_size": 224},
    "ENet": {"input_size": 224},
    "EACNet": {"input_size": 224},
    "AUNet": {"input_size": 224},
    "HydraNet": {"input_size": 224},
    "PAttNet": {"input_shape": (9, 100, 100, 3)},
}
#: Training batch of each network: the batches of performance.md where the authors' numbers
#: exist, else 8.
TRAIN_BATCH = {"DRML": 16, "JAANet": 8}
INFERENCE_BATCHES = (1, 32)
#: The authors' PyTorch code on this machine (performance.md), ms per step (low, high).
AUTHORS_MS = {
    ("JAANet", "train", 8): (1586, 1686),
    ("JAANet", "train", 16): (3149, 3376),
    ("JAANet", "infer", 1): (99, 115),
    ("JAANet", "infer", 32): (2767, 2859),
    ("DRML", "train", 16): (466, 481),
    ("DRML", "train", 64): (1950, 2073),
    ("DRML", "infer", 1): (22.3, 22.8),
    ("DRML", "infer", 32): (396, 415),
}
_BENCHMARK_KEYS = ("jit", "policy", "batch")


def parse_variant(spec: str) -> tuple[str, dict, dict]:
    """``"Name:key=value,..."`` -> (registry name, builder kwargs, benchmark options)."""
    name, _, rest = spec.partition(":")
    models.get(name)  # KeyError listing the registered models
    kwargs, options = {}, {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"Expected key=value in variant {spec!r}. Received: {item!r}")
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass  # a bare string such as grouped
        (options if key in _BENCHMARK_KEYS else kwargs)[key] = value
    return name, {**PAPER_INPUT.get(name, {}), **kwargs}, options


def build(name: str, kwargs: dict, options: dict) -> keras.Model:
    policy = keras.config.dtype_policy()
    if "policy" in options:
        keras.config.set_dtype_policy(options["policy"])
    try:
        return models.get(name)(**kwargs)
    finally:
        keras.config.set_dtype_policy(policy)


def random_inputs(model: keras.Model, batch: int, rng: np.random.Generator) -> dict:
    """Random model inputs: images in [-1, 1], landmarks inside the central face area."""
    inputs = {}
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        name = tensor.name.split(":")[0]
        if "landmark" in name:
            side = model.inputs[0].shape[1]
            values = rng.uniform(0.25 * side, 0.75 * side, size=shape)
        else:
            values = rng.uniform(-1, 1, size=shape)
        inputs[name] = tf.constant(values.astype("float32"))
    return inputs


def au_output(outputs):
    return outputs["au"] if isinstance(outputs, dict) else outputs


def make_train_step(name: str, model: keras.Model, jit: bool):
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    cross_entropy = keras.losses.BinaryCrossentropy()
    jaanet_au_loss = losses.JAANetAULoss()

    @tf.function(jit_compile=jit)
    def step(inputs, labels, landmarks):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            if name == "JAANet":
                loss = (
                    jaanet_au_loss(labels, outputs["au"])
                    + 0.5 * tf.reduce_mean(losses.alignment_loss(landmarks, outputs["landmarks"]))
                    + 1e-7
                    * tf.reduce_mean(
                        losses.attention_refinement_loss(
                            outputs["attention_initial"], outputs["attention"]
                        )
                    )
                )
            else:
                loss = cross_entropy(labels, tf.cast(au_output(outputs), tf.float32))
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss

    return step


def make_inference(model: keras.Model, jit: bool):
    @tf.function(jit_compile=jit)
    def infer(inputs):
        return au_output(model(inputs, training=False))

    return infer


def timed(function, *args) -> tuple[float, float]:
    """Wall-clock and process CPU milliseconds of one call."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    tf.nest.map_structure(lambda t: t.numpy(), result)
    return (time.perf_counter() - start) * 1000.0, (time.process_time() - start_cpu) * 1000.0


def interleaved(calls: dict, steps: int) -> dict:
    """Two warm-up calls each, then ``steps`` rounds calling every entry once per round;
    returns the median (wall ms, CPU ms) of each entry."""
    for function, args in calls.values():
        for _ in range(2):
            timed(function, *args)
    samples = {key: [] for key in calls}
    for _ in range(steps):
        for key, (function, args) in calls.items():
            samples[key].append(timed(function, *args))
    return {
        key: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values))
        for key, values in samples.items()
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["DRML", "JAANet", "EACNet", "AUNet", "PAttNet"],
        help="variants: registry names, optionally Name:key=value,... (see the docstring)",
    )
    parser.add_argument("--steps", type=int, default=5, help="timed calls per variant")
    parser.add_argument("--batch", type=int, help="training batch of every variant")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--inter-threads", type=int, default=1, help="inter-op threads")
    parser.add_argument("--no-train", action="store_true", help="skip training")
    parser.add_argument("--no-inference", action="store_true", help="skip inference")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads)
    print(f"start: {uptime()}", flush=True)

    rng = np.random.default_rng(0)
    variants = {}
    for spec in args.models:
        name, kwargs, options = parse_variant(spec)
        model = build(name, kwargs, options)
        print(f"{spec}: {model.count_params():,} parameters", flush=True)
        variants[spec] = (name, model, options)

    rows = []
    if not args.no_train:
        calls, batches = {}, {}
        for spec, (name, model, options) in variants.items():
            batch = options.get("batch", args.batch or TRAIN_BATCH.get(name, 8))
            num_aus = au_output(model(random_inputs(model, 1, rng))).shape[-1]
            labels = tf.constant(rng.integers(0, 2, size=(batch, num_aus)).astype("float32"))
            landmarks = tf.constant(rng.uniform(40, 136, size=(batch, 49, 2)).astype("float32"))
            step = make_train_step(name, model, bool(options.get("jit")))
            calls[spec] = (step, (random_inputs(model, batch, rng), labels, landmarks))
            batches[spec] = batch
        for spec, times in interleaved(calls, args.steps).items():
            rows.append((spec, "train", batches[spec], *times))
    if not args.no_inference:
        for batch in INFERENCE_BATCHES:
            calls = {
                spec: (
                    make_inference(model, bool(options.get("jit"))),
                    (random_inputs(model, batch, rng),),
                )
                for spec, (name, model, options) in variants.items()
            }
            for spec, times in interleaved(calls, args.steps).items():
                rows.append((spec, "infer", batch, *times))

    print(
        f"\n| network | step | batch | wall ms | images/s | CPU ms / {args.threads} threads "
        "| authors' PyTorch ms | authors / tfau (wall, CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for spec, kind, batch, ms, cpu_ms in rows:
        cpu_ms /= args.threads
        authors = AUTHORS_MS.get((variants[spec][0], kind, batch))
        if authors:
            middle = sum(authors) / 2
            reference = f"{authors[0]:g}-{authors[1]:g}"
            ratio = f"{middle / ms:.2f}, {middle / cpu_ms:.2f}"
        else:
            reference = ratio = "-"
        print(
            f"| {spec} | {kind} | {batch} | {ms:.0f} | {batch * 1000 / ms:.1f} | {cpu_ms:.0f} "
            f"| {reference} | {ratio} |"
        )
    print(f"\nend: {uptime()}")


if __name__ == "__main__":
    main()
