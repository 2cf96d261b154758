"""LiteRT (XNNPACK) against TensorFlow: batch-1 latency of tfau's served networks on 2 threads.

For each network at its paper's input size (DRML 170, JAA-Net 176, PAttNet 9 x 100; 12 AUs,
random weights seeded, 200 px aligned faces in) times one uint8 face through

- ``TF``: what ``tfau predict`` runs for a ``.keras`` file: `tfau.inference.from_keras`, the
  serving function (preprocessing + network) compiled by ``tf.function``, 2 intra-op threads;
- ``LiteRT fp32`` / ``int8`` / ``fp16``: the ``.tflite`` of ``tfau export --format litert``
  (`tfau.export.litert`: the same SavedModel "faces" signature converted with builtin ops,
  float32, dynamic-range int8 or float16 weights) in ai-edge-litert's interpreter with the
  XNNPACK delegate, 2 threads;

as the median and the fastest of ``--steps`` calls after two warm-up calls, every variant
called once per round so that load changes hit them alike; process CPU time / 2 is printed
beside the wall time (on a loaded machine a 2-thread call often gets one core: the fastest
call is the least disturbed one). Ratios ``TF ms / variant ms`` (> 1: faster than TF) are what
to read; absolute times vary with the machine and its load, printed at the start and the end.

The quantised files are also compared with float32 on ``--eval_faces`` SynthAU faces
(`tfau.export.litert.synthau_faces`, seed 0) as the export does: occurrence agreement at 0.5
and the largest probability difference (random weights: a trained model's figures are those
``tfau export`` prints for it).

Usage::

    python experiments/benchmarks/litert_speed.py --models DRML JAANet --steps 10
    python experiments/benchmarks/litert_speed.py --models JAANet --batches 1 16 --no-xnnpack
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import tempfile
import time
from importlib import metadata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from tfau import models
from tfau.aus import BP4D_AUS, au_names
from tfau.export import export_model
from tfau.export.litert import (
    LiteRTRunner,
    compare_outputs,
    convert,
    run_faces,
    synthau_faces,
)
from tfau.inference import from_keras

#: The networks, each at its builder's default input: the paper's.
NETWORKS = ("DRML", "JAANet", "PAttNet", "FVGG", "AUNet")
AUS = list(BP4D_AUS)
NAMES = au_names(AUS)
FACE = 200
MEAN = [128.0, 110.0, 100.0]
WEIGHTS = {"none": "fp32", "int8": "int8", "float16": "fp16"}


def cpu_model() -> str:
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(function, *args) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    function(*args)
    return (time.perf_counter() - start) * 1000.0, (time.process_time() - start_cpu) * 1000.0


def interleaved(calls: dict, steps: int) -> dict:
    """Two warm-up calls each, then ``steps`` rounds of one call per entry: (median wall,
    fastest wall, median CPU) milliseconds."""
    for function, args in calls.values():
        for _ in range(2):
            timed(function, *args)
    samples = {key: [] for key in calls}
    for _ in range(steps):
        for key, (function, args) in calls.items():
            samples[key].append(timed(function, *args))
    return {
        key: (
            statistics.median(s[0] for s in values),
            min(s[0] for s in values),
            statistics.median(s[1] for s in values),
        )
        for key, values in samples.items()
    }


def reference_kernels(flatbuffer: bytes, threads: int):
    """LiteRT's builtin kernels without the XNNPACK delegate (to see what XNNPACK brings)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=flatbuffer,
        num_threads=threads,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return interpreter.get_signature_runner("faces")


def prepare(name: str, args: argparse.Namespace, faces) -> dict:
    """The TF function and the LiteRT runners of one network, with accuracy figures."""
    keras.utils.set_random_seed(0)
    model = models.get(name)(num_aus=len(AUS))
    mean = MEAN if name == "DRML" else None
    variants = {"TF": {"call": from_keras(model, aus=AUS, model_name=name, mean=mean)}}
    with tempfile.TemporaryDirectory() as folder:
        export_model(model, folder, model_name=name, aus=AUS, face_size=FACE, mean=mean)
        flatbuffers = {}
        for quantization in ("none", "int8", "float16"):
            start = time.perf_counter()
            flatbuffers[quantization] = convert(folder, quantization)
            print(
                f"{name} {WEIGHTS[quantization]}: converted in {time.perf_counter() - start:.0f} s"
                f", {len(flatbuffers[quantization]) / 1e6:.1f} MB",
                flush=True,
            )
    outputs = {}
    for quantization, flatbuffer in flatbuffers.items():
        runner = LiteRTRunner(flatbuffer, args.threads)
        outputs[quantization] = run_faces(runner, faces.images)
        variant = {"call": runner, "size": len(flatbuffer) / 1e6}
        if quantization != "none":
            figures = compare_outputs(
                outputs["none"], outputs[quantization], faces.labels, NAMES, 0.5
            )
            variant["agreement"] = figures["occurrence_agreement"]
            variant["max_dp"] = figures["probability_max_abs_diff"]
        variants[f"LiteRT {WEIGHTS[quantization]}"] = variant
    tf_outputs = variants["TF"]["call"](faces.images)
    variants["LiteRT fp32"]["max_dp"] = float(
        np.abs(outputs["none"]["au_probabilities"] - tf_outputs["au"]).max()
    )
    if args.no_xnnpack:
        variants["LiteRT fp32, no XNNPACK"] = {
            "call": reference_kernels(flatbuffers["none"], args.threads),
            "size": len(flatbuffers["none"]) / 1e6,
        }
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["DRML", "JAANet"], choices=NETWORKS)
    parser.add_argument("--steps", type=int, default=10, help="timed calls per variant")
    parser.add_argument("--threads", type=int, default=2, help="TF intra-op / LiteRT threads")
    parser.add_argument("--batches", type=int, nargs="+", default=[1], help="faces per call")
    parser.add_argument("--eval_faces", type=int, default=128, help="SynthAU faces (accuracy)")
    parser.add_argument(
        "--no-xnnpack", action="store_true", help="also time LiteRT fp32 without XNNPACK"
    )
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"{started} on {platform.node()}: {cpu_model()}, {os.cpu_count()} cores")
    print(
        f"TensorFlow {tf.__version__}, ai-edge-litert {metadata.version('ai-edge-litert')}, "
        f"{args.threads} threads"
    )
    print(f"start: {uptime()}", flush=True)
    faces = synthau_faces(args.eval_faces, AUS, FACE)
    rows = []
    for name in args.models:
        variants = prepare(name, args, faces)
        for batch in args.batches:
            images = faces.images[:batch]
            calls = {}
            for label, variant in variants.items():
                if label == "TF":
                    calls[label] = (variant["call"], (images,))
                else:
                    calls[label] = (lambda v=variant["call"], x=images: v(images=x), ())
            times = interleaved(calls, args.steps)
            for label, (ms, fastest, cpu_ms) in times.items():
                cpu_ms /= args.threads
                tf_ms, tf_fastest = times["TF"][:2]
                rows.append(
                    (name, batch, label, variants[label], ms, fastest, cpu_ms, tf_ms, tf_fastest)
                )

    print(
        "\n| network | batch | runtime, weights | size MB | ms per call (median / fastest) "
        "| CPU ms / threads | TF ms / this (median, fastest) | agreement with fp32 "
        "| max abs diff of p |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, batch, label, variant, ms, fastest, cpu_ms, tf_ms, tf_fastest in rows:
        size = f"{variant['size']:.1f}" if "size" in variant else "-"
        agreement = f"{100 * variant['agreement']:.2f}%" if "agreement" in variant else "-"
        diff = f"{variant['max_dp']:.2g}" if "max_dp" in variant else "-"
        if label == "LiteRT fp32":
            diff += " (vs TF)"
        print(
            f"| {name} | {batch} | {label} | {size} | {ms:.1f} / {fastest:.1f} | {cpu_ms:.1f} "
            f"| {tf_ms / ms:.2f}, {tf_fastest / fastest:.2f} | {agreement} | {diff} |"
        )
    print(f"\nend: {uptime()}")


if __name__ == "__main__":
    main()
