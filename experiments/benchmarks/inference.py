"""End-to-end speed of ``tfau predict`` on a 640 x 480 video, per network and per stage.

Renders a SynthAU video (640 x 480, ``--frames`` frames, one moving face, written as MJPG and
decoded by OpenCV like any video), then runs `tfau.inference.Predictor` on it for each network
at its paper's input size with random weights (speed only): MTCNN detection every
``--detect_every`` frames, optical-flow tracking in between, dlib's 68 landmarks when the
``landmarks`` extra is installed (E-Net and EAC-Net take them; the flow AUNets get the DIS flow
from the previous frame), JAA-Net alignment, the network on
batches of ``--batch_size`` faces, median smoothing (window 5) and the CSV. A warm-up run on
the first frames traces the functions first. Printed per network: frames per second end to
end and its ratio to the 25 fps goal, the wall time of each stage per frame, the network alone
(faces per second on the same batches), the process CPU time per frame divided by the
threads (what an idle machine would take) and the frames where a face was found. Reading,
tracking and alignment run in a thread beside the network, so the stage times overlap and
can add up to more than the wall time. ``uptime`` is printed at the start and the end: the
machine is shared, and load slows everything.

TensorFlow runs with oneDNN, as ``tfau predict`` does (``TF_ENABLE_ONEDNN_OPTS=0`` before the
command times it without). With ``--litert`` each network runs from the float32 ``.tflite``
that ``tfau export --format litert --quantize none`` writes (`tfau.export.export_litert`;
LiteRT's interpreter with XNNPACK, ``--threads`` threads), as ``tfau predict --model
model.tflite`` runs it.

Usage::

    python experiments/benchmarks/inference.py --frames 300
    python experiments/benchmarks/inference.py --networks DRML JAANet --litert
    python experiments/benchmarks/inference.py --networks DRML --frames 300 --detect_every 15
"""

import argparse
import os
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN on, as `tfau predict` runs (tfau._environment); TF_ENABLE_ONEDNN_OPTS=0 times without.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import cv2
import numpy as np
import tensorflow as tf

import tfau.models
from tfau.aus import BP4D_AUS
from tfau.export.litert import export_litert
from tfau.inference import STAGES, Predictor, from_keras
from tfau.inference.litert import load_litert
from tfau.synth import SynthAU

GOAL_FPS = 25.0
#: The networks timed, each at its builder's default input: the paper's (DRML 170, JAA-Net
#: 176, PAttNet 9 x 100 x 100, the VGG networks 224). ENet and EACNet also get the 68
#: landmarks (the `landmarks` extra); the AUNet fusions the optical flow between the previous
#: frame and the face (OpenCV DIS, in the serving graph or between the export's signatures).
NETWORKS = (
    *("DRML", "JAANet", "PAttNet", "FVGG", "AUNet", "ENet", "EACNet", "AUNetFlow"),
    *("AUNetChannels", "AUNetHorizontal", "AUNetPiConv", "AUNetPiFC6", "AUNetPiFC7"),
)
#: A plausible BP4D training mean for DRML's mean subtraction (its value does not change speed).
MEAN = (121.0, 98.0, 90.0)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def write_video(path: str, frames: int, seed: int) -> None:
    sequence = SynthAU("bp4d", image_size=(640, 480), seed=seed).sequence("F001", "T1", frames)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    for t in range(frames):
        writer.write(cv2.cvtColor(sequence.frame(t), cv2.COLOR_RGB2BGR))
    writer.release()


def build(name: str, litert_dir: str | None = None, threads: int = 2):
    """The served network: from its Keras model, or from its LiteRT export in ``litert_dir``."""
    num_aus = 12
    model = tfau.models.get(name)(num_aus=num_aus)
    mean = MEAN if name == "DRML" else None
    # AUNet is one binary network per AU in the paper; the 12-output head times one pass.
    if litert_dir is None:
        return from_keras(model, aus=BP4D_AUS, mean=mean, model_name=name)
    path = os.path.join(litert_dir, f"{name}.tflite")
    export_litert(model, path, model_name=name, aus=BP4D_AUS, mean=mean, quantize="none")
    return load_litert(path, num_threads=threads)


def network_alone(model, batch_size: int, repeats: int = 3) -> float:
    """Faces per second of the network (with its preprocessing) on full batches."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch_size, 200, 200, 3), np.uint8)
    inputs = {}
    if model.needs_landmarks:
        inputs["landmarks"] = rng.uniform(60, 140, (batch_size, 49, 2)).astype(np.float32)
    if model.needs_flow:
        inputs["previous"] = np.roll(faces, 2, axis=2)
    model(faces, **inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(faces, **inputs)
        times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--detect_every", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--smoothing", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--litert", action="store_true", help="serve the float32 LiteRT exports")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(f"start: {uptime()}")
    with tempfile.TemporaryDirectory() as tmp:
        video = os.path.join(tmp, "synth640x480.avi")
        start = time.perf_counter()
        write_video(video, args.frames, args.seed)
        print(f"rendered {args.frames} frames of 640x480 in {time.perf_counter() - start:.1f}s")
        header = (
            "| network | end-to-end fps | x 25 fps goal | CPU-time fps | ms/frame: "
            + " / ".join(STAGES)
            + " | network alone faces/s | detector runs | frames with a face |"
        )
        lines = [header, "|" + "---|" * 8]
        for name in args.networks:
            model = build(name, tmp if args.litert else None, args.threads)
            predictor = Predictor(
                model,
                smoothing=args.smoothing,
                detect_every=args.detect_every,
                batch_size=args.batch_size,
            )
            # Warm-up: traces the network and MTCNN stages on this video's shapes.
            predictor.predict_video(video, os.path.join(tmp, "warmup.csv"), max_frames=40)
            cpu = time.process_time()
            summary = predictor.predict_video(video, os.path.join(tmp, f"{name}.csv"))
            cpu = (time.process_time() - cpu) / args.threads
            alone = network_alone(model, args.batch_size)
            stages = " / ".join(
                f"{1000 * summary.stage_seconds[s] / summary.frames:.1f}" for s in STAGES
            )
            cpu_fps = summary.frames / cpu
            line = (
                f"| {name} | {summary.fps:.1f} | {summary.fps / GOAL_FPS:.2f} | {cpu_fps:.1f} | "
                f"{stages} | {alone:.1f} | {summary.detections} | "
                f"{summary.face_rows}/{summary.frames} |"
            )
            print(line, flush=True)
            lines.append(line)
            assert summary.face_rows + summary.frames_without_face == summary.frames
    print(f"end: {uptime()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
