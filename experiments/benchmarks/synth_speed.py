"""Frames per second of the SynthAU generator on one core, and time to write the layouts.

Measures, at a given frame size (default 256 x 256, one view, median of ``--repeats`` runs):

- ``setup``: sampling a sequence (AU time courses, motion, deformation, projection, backdrop),
  per frame;
- ``render``: drawing frames (face, wrinkles, light and noise);
- ``render + JPEG``: the same plus JPEG encoding (what the BP4D writer does per frame);
- ``total``: setup + render + JPEG, the end-to-end rate of one worker process;

then optionally (``--layouts``) the wall time of writing the ``tiny`` and ``small`` presets of
both layouts with ``--workers`` processes. The aim is hundreds of frames per second per core.
Prints a Markdown table.

Usage::

    python experiments/benchmarks/synth_speed.py --size 256 --frames 300 --repeats 3
    python experiments/benchmarks/synth_speed.py --layouts --workers 2
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2

from tfau.synth import SynthAU, write_bp4d, write_disfa

AIM_FPS = 200.0


def _per_frame_rates(size: int, frames: int, seed: int) -> dict[str, float]:
    gen = SynthAU("bp4d", image_size=(size, size), seed=seed)
    start = time.perf_counter()
    seq = gen.sequence("F001", f"T{seed}", frames)
    setup = time.perf_counter() - start

    start = time.perf_counter()
    rendered = [seq.frame(t) for t in range(frames)]
    render = time.perf_counter() - start

    start = time.perf_counter()
    for frame in rendered:
        cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    jpeg = time.perf_counter() - start
    return {
        "setup": frames / setup,
        "render": frames / render,
        "render + JPEG": frames / (render + jpeg),
        "total": frames / (setup + render + jpeg),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="frame width and height")
    parser.add_argument("--frames", type=int, default=300, help="frames per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs (median reported)")
    parser.add_argument("--layouts", action="store_true", help="also time the writers")
    parser.add_argument("--workers", type=int, default=2, help="writer processes")
    args = parser.parse_args()

    cv2.setNumThreads(1)  # one core: the writers parallelise over processes instead
    _per_frame_rates(args.size, 20, seed=99)  # warm-up
    runs = [_per_frame_rates(args.size, args.frames, seed=r) for r in range(args.repeats)]
    print(f"SynthAU speed, {args.size} x {args.size}, {args.frames} frames, one core, ")
    print(f"median of {args.repeats} runs ({platform.processor() or platform.machine()})\n")
    print("| stage | frames/s | ms/frame | vs aim (200 fps) |")
    print("|---|---|---|---|")
    for stage in runs[0]:
        fps = statistics.median(r[stage] for r in runs)
        print(f"| {stage} | {fps:.0f} | {1000.0 / fps:.2f} | {fps / AIM_FPS:.2f}x |")

    if args.layouts:
        print(f"\n| layout | preset | frames written | seconds ({args.workers} workers) |")
        print("|---|---|---|---|")
        for preset in ("tiny", "small"):
            for name, writer in (("bp4d", write_bp4d), ("disfa", write_disfa)):
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    manifest = writer(out, size=preset, workers=args.workers, progress=False)
                    seconds = time.perf_counter() - start
                totals = manifest["totals"]
                frames = totals.get("images", 2 * totals.get("video_frames", 0))
                print(f"| {name} | {preset} | {frames} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
