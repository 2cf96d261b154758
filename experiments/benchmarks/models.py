"""Training and inference speed of the paper networks at their papers' input sizes, beside the
authors' code in the same process.

For each network (``tfau.models`` registry name, at its paper's input size: DRML 170, JAA-Net
176, EAC-Net / AUNets 224, PAttNet 9 x 100 x 100 with one AU as the authors train it) times

- one training step: forward, loss, backward and the authors' optimizer update (JAA-Net: SGD
  with Nesterov momentum and weight decay; DRML: SGD with momentum and weight decay; AUNet:
  Adam; others: SGD with momentum; tfau's fused ones of ``tfau.training.make_optimizer``, as
  ``tfau train`` uses them) inside one compiled ``tf.function``; JAA-Net trains on its
  paper losses (eq. 1 with the authors' weights), the others on a sigmoid cross-entropy of
  their ``"au"`` output against random labels; batches as the authors' (JAA-Net, AUNet,
  PAttNet 8; DRML 16);
- inference (``training=False``) at batch 1 and a large batch (32; 8 for the VGG networks),

each as the median of ``--steps`` calls after two warm-up calls, 2 threads (TF intra-op 2 /
inter-op 1, torch ``set_num_threads(2)``). With ``--litert``, batch-1 inference also runs
through what ``tfau export --format litert`` writes: the network's SavedModel "faces"
signature (preprocessing included: one 200 px uint8 face resized to the network's input and
normalised) converted to a float32 ``.tflite`` and run in LiteRT's interpreter with the
XNNPACK delegate, ``--threads`` threads (``ai-edge-litert``; the authors' side times its
network alone).

With ``--authors_dir DIR`` (a folder holding the authors' public code, outside tfau:
``PyTorch-JAANet``, ``AUNets``, ``DRML``, ``PAttNet``; see ``authors_networks.py`` for what is
built from each) the authors' networks run beside tfau's in the same process, calls
alternating (authors, tfau, authors, ...) so that load changes on a shared machine hit both
alike, and the table gives ``authors / tfau`` per setting (above 1: tfau is faster), from the
wall-clock medians and from the process CPU-time medians. On a loaded machine the two differ:
torch's OpenMP threads wait at a barrier after each op for a descheduled partner, which costs
the authors' many-small-op networks (JAA-Net, the per-box DRML) wall time but little CPU
time. Without the folder, tfau alone. The date, the CPU model and the load average are printed
with the table.

A variant is ``Name`` or ``Name:key=value,key=value``: builder keyword arguments (Python
literals) plus four benchmark keys, ``jit=1`` (``jit_compile=True`` for the train step and
inference), ``policy=mixed_bfloat16`` (Keras dtype policy while building), ``batch=N`` and
``optimizer=keras`` (Keras' SGD / Adam instead of tfau's fused ones, for before / after).

Usage::

    python experiments/benchmarks/models.py --authors_dir /work/authors
    python experiments/benchmarks/models.py --models DRML JAANet --steps 5
    python experiments/benchmarks/models.py --models JAANet JAANet:local_implementation=grouped
    python experiments/benchmarks/models.py --models DRML DRML:optimizer=keras --no-inference
    python experiments/benchmarks/models.py --authors_dir /work/authors --no-train --litert
"""

import argparse
import ast
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

from tfau import losses, models, training
from tfau.training import OptimizerSpec

#: Builder arguments beyond the defaults, which are the papers' inputs (DRML 170, JAA-Net
#: 176, the VGG networks 224, PAttNet 9 x 100 x 100): PAttNet with one AU, as its authors train.
BUILD_KWARGS = {"PAttNet": {"num_aus": 1}}
#: Training batch of each network: the authors' (JAA-Net 8, DRML 16 as in reference
#: performance.md), else 8.
TRAIN_BATCH = {"DRML": 16, "JAANet": 8}
#: Inference batches: 1 and a large one (8 for the VGG-16/19 networks at 224).
INFERENCE_BATCHES = {"FVGG": (1, 8), "ENet": (1, 8), "EACNet": (1, 8), "AUNet": (1, 8)}
DEFAULT_INFERENCE_BATCHES = (1, 32)
#: Learning rates of both sides: the authors' except JAA-Net's 0.01, at which random faces and
#: landmarks drive their landmark head to NaN within a few steps (their attention maps then
#: fail on NaN centres). The rate does not change the work of a step.
LEARNING_RATE = {"JAANet": 1e-5, "DRML": 1e-3, "AUNet": 1e-4, "PAttNet": 1e-3}
_BENCHMARK_KEYS = ("jit", "policy", "batch", "optimizer")
#: Pause before each timed call, seconds (see `interleaved`).
PAUSE_S = 0.2
#: Side of the aligned uint8 face given to a LiteRT export (the serving default).
LITERT_FACE = 200
#: A training mean for DRML's mean subtraction in its export (its value does not change speed).
LITERT_DRML_MEAN = (128.0, 110.0, 100.0)


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
    return name, {**BUILD_KWARGS.get(name, {}), **kwargs}, options


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


def au_count(model: keras.Model, rng: np.random.Generator) -> int:
    """Number of AUs the network predicts (columns of its ``"au"`` output)."""
    return au_output(model(random_inputs(model, 1, rng))).shape[-1]


def make_optimizer(name: str, implementation: str = "tfau") -> keras.optimizers.Optimizer:
    """The authors' optimizer of each network, at ``LEARNING_RATE``, as ``tfau train`` makes
    it (``tfau.training.make_optimizer``: fused updates), or Keras' own with
    ``implementation="keras"``."""
    rate = LEARNING_RATE.get(name, 1e-3)
    if name == "JAANet":
        spec = OptimizerSpec(learning_rate=rate, nesterov=True, weight_decay=5e-4)
    elif name == "DRML":
        spec = OptimizerSpec(learning_rate=rate, weight_decay=5e-4)
    elif name in ("AUNet", "HydraNet"):
        spec = OptimizerSpec(name="adam", learning_rate=rate, beta_1=0.5, beta_2=0.999)
    else:
        spec = OptimizerSpec(learning_rate=rate)
    optimizer = training.make_optimizer(spec, steps_per_epoch=1)
    if implementation == "tfau":
        return optimizer
    if implementation != "keras":
        raise ValueError(
            f'`optimizer` must be "tfau" or "keras". Received: optimizer={implementation!r}'
        )
    # The Keras class tfau's fused one subclasses, with the same hyperparameters.
    keras_class = keras.optimizers.Adam if spec.name == "adam" else keras.optimizers.SGD
    return keras_class.from_config(optimizer.get_config())


def make_train_step(name: str, model: keras.Model, jit: bool, optimizer: str = "tfau"):
    optimizer = make_optimizer(name, optimizer)
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
                    + 1e-4
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


def litert_inference(name: str, model: keras.Model, rng: np.random.Generator, threads: int):
    """A batch-1 call of ``model`` exported as ``tfau export --format litert`` writes it
    (float32 weights): one uint8 face of LITERT_FACE px through preprocessing and network."""
    from tfau.aus import BP4D_AUS
    from tfau.export import export_model
    from tfau.export.litert import LiteRTRunner, convert

    num_aus = au_count(model, rng)
    mean = LITERT_DRML_MEAN if name == "DRML" else None
    with tempfile.TemporaryDirectory() as folder:
        export_model(
            model, folder, model_name=name, aus=BP4D_AUS[:num_aus], face_size=LITERT_FACE, mean=mean
        )
        runner = LiteRTRunner(convert(folder), num_threads=threads)
    face = rng.integers(0, 256, size=(1, LITERT_FACE, LITERT_FACE, 3)).astype(np.uint8)
    return lambda: runner(images=face)


def numpy_call(function, *args):
    """A call that returns once TF's result is computed (torch's calls are synchronous)."""

    def call():
        return tf.nest.map_structure(lambda t: t.numpy(), function(*args))

    return call


def timed(function) -> tuple[float, float]:
    """Wall-clock and process CPU milliseconds of one call."""
    start, start_cpu = time.perf_counter(), time.process_time()
    function()
    return (time.perf_counter() - start) * 1000.0, (time.process_time() - start_cpu) * 1000.0


def interleaved(calls: dict, steps: int) -> dict:
    """Two warm-up calls each, then ``steps`` rounds calling every entry once per round;
    returns the median (wall ms, CPU ms) of each entry. Each call starts after a pause of
    PAUSE_S: worker threads that spin-wait after their call (torch's OpenMP team, XNNPACK's
    thread pool) would otherwise take the cores from the next side's call."""
    for function in calls.values():
        for _ in range(2):
            timed(function)
    samples = {key: [] for key in calls}
    for _ in range(steps):
        for key, function in calls.items():
            time.sleep(PAUSE_S)
            samples[key].append(timed(function))
    return {
        key: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values))
        for key, values in samples.items()
    }


def machine() -> str:
    """Date, CPU model (lscpu), TensorFlow's oneDNN state and the load average."""
    model = "unknown CPU"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    try:
        from tensorflow.python.util import _pywrap_util_port

        onednn = "with" if _pywrap_util_port.IsMklEnabled() else "without"
    except (ImportError, AttributeError):
        onednn = "unknown"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {model}, {os.cpu_count()} "
        f"cores; TF {tf.__version__} {onednn} oneDNN; load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["JAANet", "DRML", "AUNet", "PAttNet"],
        help="variants: registry names, optionally Name:key=value,... (see the docstring)",
    )
    parser.add_argument(
        "--authors_dir", type=Path, help="folder holding the authors' code (side by side)"
    )
    parser.add_argument("--steps", type=int, default=5, help="timed calls per variant")
    parser.add_argument("--batch", type=int, help="training batch of every variant")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (both sides)")
    parser.add_argument("--inter-threads", type=int, default=1, help="TF inter-op threads")
    parser.add_argument("--no-train", action="store_true", help="skip training")
    parser.add_argument("--no-inference", action="store_true", help="skip inference")
    parser.add_argument(
        "--litert", action="store_true", help="also batch-1 inference of the LiteRT exports"
    )
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads)
    print(f"start: {machine()}", flush=True)

    rng = np.random.default_rng(0)
    variants, authors = {}, {}
    for spec in args.models:
        name, kwargs, options = parse_variant(spec)
        model = build(name, kwargs, options)
        print(f"{spec}: {model.count_params():,} parameters", flush=True)
        variants[spec] = (name, model, options)
    if args.authors_dir:
        import torch
        from authors_networks import authors_network

        torch.set_num_threads(args.threads)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
        for name in dict.fromkeys(name for name, _, _ in variants.values()):
            network = authors_network(name, args.authors_dir, LEARNING_RATE.get(name, 1e-3))
            if network is not None:
                authors[name] = network
                print(f"authors' {name}: {network.source}", flush=True)

    def run(kind: str, batch_of, make_tfau_call) -> list:
        """Times every variant (and the authors' network of its name) at its batch."""
        calls = {}
        for spec, (name, model, options) in variants.items():
            for batch in batch_of(name, options):
                calls[(spec, batch, "tfau")] = make_tfau_call(name, model, options, batch)
                if name in authors:
                    make = (
                        authors[name].make_train_step
                        if kind == "train"
                        else authors[name].make_infer
                    )
                    calls[(spec, batch, "authors")] = make(batch)
        print(f"timing {kind}: {', '.join(f'{s} {b} {side}' for s, b, side in calls)}", flush=True)
        times = interleaved(calls, args.steps)
        rows = []
        for (spec, batch, side), (ms, cpu_ms) in times.items():
            if side == "tfau":
                theirs = times.get((spec, batch, "authors"))
                rows.append((spec, kind, batch, ms, cpu_ms / args.threads, theirs))
        return rows

    def train_call(name, model, options, batch):
        num_aus = au_count(model, rng)
        labels = tf.constant(rng.integers(0, 2, size=(batch, num_aus)).astype("float32"))
        landmarks = tf.constant(rng.uniform(40, 136, size=(batch, 49, 2)).astype("float32"))
        step = make_train_step(
            name, model, bool(options.get("jit")), options.get("optimizer", "tfau")
        )
        return numpy_call(step, random_inputs(model, batch, rng), labels, landmarks)

    def infer_call(name, model, options, batch):
        infer = make_inference(model, bool(options.get("jit")))
        return numpy_call(infer, random_inputs(model, batch, rng))

    rows = []
    if not args.no_train:
        rows += run(
            "train",
            lambda name, options: [options.get("batch", args.batch or TRAIN_BATCH.get(name, 8))],
            train_call,
        )
    if not args.no_inference:
        rows += run(
            "infer",
            lambda name, options: INFERENCE_BATCHES.get(name, DEFAULT_INFERENCE_BATCHES),
            infer_call,
        )
    if args.litert:
        rows += run(
            "infer LiteRT",
            lambda name, options: (1,),
            lambda name, model, options, batch: litert_inference(name, model, rng, args.threads),
        )

    print(f"\nend: {machine()}")
    if authors:
        print(
            "\n| network | step | batch | authors ms | tfau ms | authors / tfau "
            "| CPU-time ratio | tfau images/s |"
        )
        print("|---|---|---|---|---|---|---|---|")
    else:
        threads = f"CPU ms / {args.threads} threads"
        print(f"\n| network | step | batch | wall ms | images/s | {threads} |")
        print("|---|---|---|---|---|---|")
    for spec, kind, batch, ms, cpu_ms, theirs in rows:
        if authors:
            their_ms, ratio, cpu_ratio = "-", "-", "-"
            if theirs:
                their_ms = f"{theirs[0]:.1f}"
                ratio = f"{theirs[0] / ms:.2f}"
                cpu_ratio = f"{theirs[1] / args.threads / cpu_ms:.2f}"
            print(
                f"| {spec} | {kind} | {batch} | {their_ms} | {ms:.1f} | {ratio} | {cpu_ratio} "
                f"| {batch * 1000 / ms:.1f} |"
            )
        else:
            print(
                f"| {spec} | {kind} | {batch} | {ms:.1f} | {batch * 1000 / ms:.1f} | {cpu_ms:.0f} |"
            )


if __name__ == "__main__":
    main()
