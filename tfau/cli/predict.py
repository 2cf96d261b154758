"""``tfau predict``: AU occurrence per frame of a video, webcam, image folder or image -> CSV.

Example:
    tfau predict --model exported/jaanet --input talk.mp4 --out talk_aus.csv --smoothing 5
    tfau predict --model runs/drml/model.keras --mean 121 98 90 --input frames/ --out aus.csv
    tfau predict --model exported/drml --input 0 --out webcam.csv   # webcam 0, Ctrl-C stops
    tfau predict --view_classifier view.keras --view_model 0 au1_v0.keras \\
        --view_model 0 au2_v0.keras --view_model 1 au1_v1.keras --view_model 1 au2_v1.keras \\
        --input clip.mp4 --out clip.csv   # AUNets' multi-view system
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def register(subparsers: Any) -> None:
    """Adds the ``predict`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "predict",
        help="predict AUs on a video, webcam, image folder or image (OpenFace-style CSV)",
        description=(
            "Detects faces (MTCNN, offline), tracks them, places dlib's 68 landmarks when "
            'the extra is installed (pip install "tfau[landmarks]"), aligns the faces from 5 '
            "points (JAA-Net), runs a trained model (.keras or an exported SavedModel; E-Net "
            "and EAC-Net get the landmarks, AUNets' flow fusions the optical flow along each "
            "face track), smooths the AU probabilities along each face track and writes an "
            "OpenFace-style CSV: frame, face_id, timestamp, confidence, success, x_i, y_i, "
            "AUxx_p, AUxx_c. Frames without a face are written with success 0."
        ),
    )
    parser.add_argument(
        "--model", default=None, help="trained model: a .keras file or an exported SavedModel"
    )
    parser.add_argument(
        "--view_classifier",
        default=None,
        help="AUNets' multi-view system: the view classifier (.keras); the video goes to the "
        "models of its predicted view (--view_model), instead of --model",
    )
    parser.add_argument(
        "--view_model",
        nargs=2,
        action="append",
        default=[],
        metavar=("VIEW", "PATH"),
        help="an AU model (.keras saved by tfau training, with its model.json naming its AUs) "
        "of view VIEW (0-based); repeat for each model and view; columns in the order given",
    )
    parser.add_argument(
        "--input",
        required=True,
        help="video file, folder of images, one image, or a webcam index (0, 1, ...)",
    )
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument(
        "--aus",
        type=int,
        nargs="+",
        default=None,
        help="AUs to predict: a subset of the model's AUs (SavedModel, or .keras with its "
        "model.json); bare .keras: the AUs of its outputs in order (default: BP4D's 12 or "
        "DISFA's 8 by output width)",
    )
    parser.add_argument(
        "--model_name", default=None, help=".keras: tfau.models name (default: from the model)"
    )
    parser.add_argument(
        "--mean",
        type=float,
        nargs=3,
        default=None,
        help="bare .keras: training RGB mean, 0-255 (networks that subtract it: DRML)",
    )
    parser.add_argument(
        "--threshold", type=float, default=None, help="occurrence threshold (default: model's)"
    )
    parser.add_argument(
        "--smoothing",
        type=int,
        default=1,
        help="median window along each face track, odd (1: none; AUNets: 3, 5, 7)",
    )
    parser.add_argument(
        "--detect_every", type=int, default=10, help="run the face detector every N frames"
    )
    parser.add_argument(
        "--detection_size",
        type=int,
        default=240,
        help="shorter frame side the detector sees (0: full resolution; default 240)",
    )
    parser.add_argument(
        "--detector_thresholds",
        type=float,
        nargs=3,
        default=(0.6, 0.7, 0.8),
        help="MTCNN PNet, RNet, ONet score thresholds (default 0.6 0.7 0.8)",
    )
    landmarks = parser.add_mutually_exclusive_group()
    landmarks.add_argument(
        "--landmarks",
        dest="landmarks",
        action="store_const",
        const=True,
        default=None,
        help="place dlib's 68 landmarks on every face (default: when the extra is installed, "
        'pip install "tfau[landmarks]"; its model is for non-commercial use only)',
    )
    landmarks.add_argument(
        "--no_landmarks",
        dest="landmarks",
        action="store_const",
        const=False,
        help="no 68 landmarks (faces aligned from the detector's key points)",
    )
    parser.add_argument(
        "--align_from",
        choices=("auto", "landmarks", "keypoints"),
        default="auto",
        help="alignment points: the 68 landmarks' or the detector's key points (auto: the "
        "landmarks when computed)",
    )
    parser.add_argument(
        "--crop",
        choices=("aligned", "unaligned"),
        default="aligned",
        help="aligned: JAA-Net's alignment (the aligned<size> datasets); unaligned: the square "
        "box around the landmarks (the unaligned<size> datasets EAC-Net's and AUNets' "
        "experiments train on; needs the landmarks extra)",
    )
    parser.add_argument("--max_faces", type=int, default=None, help="most faces per frame")
    parser.add_argument("--batch_size", type=int, default=16, help="faces per network call")
    parser.add_argument("--max_frames", type=int, default=None, help="stop after N frames")
    parser.add_argument(
        "--independent_images",
        action="store_true",
        help="images of a folder are unrelated photos (detect each; no tracking)",
    )
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of image folders")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def multiview_predictor(args: argparse.Namespace) -> Any:
    """The `MultiViewPredictor` of ``--view_classifier`` and the ``--view_model`` files."""
    import tfau.models
    from tfau.inference import MultiViewPredictor
    from tfau.model_files import load_keras_model, read_model_info

    if not args.view_model:
        raise ValueError("--view_classifier needs the AU models of each view: --view_model V PATH")
    models: dict[int, list[Any]] = {}
    aus: dict[int, list[list[int]]] = {}
    for view, path in args.view_model:
        info = read_model_info(path)
        if info is None:
            raise ValueError(
                f"{path} has no model.json beside it naming its AUs: save view models with "
                "tfau training (tfau.model_files.save_trained_model)."
            )
        if not view.isdigit():
            raise ValueError(f"A view is a 0-based integer. Received: --view_model {view} {path}")
        models.setdefault(int(view), []).append(load_keras_model(path, compile=False))
        aus.setdefault(int(view), []).append(list(info.aus))
    classifier = load_keras_model(args.view_classifier, compile=False)
    ensemble = tfau.models.MultiViewEnsemble(classifier, models, batch_size=args.batch_size)
    return MultiViewPredictor(ensemble, aus, **predictor_options(args))


def predictor_options(args: argparse.Namespace) -> dict[str, Any]:
    """`Predictor` options from the command line."""
    return {
        "threshold": args.threshold,
        "smoothing": args.smoothing,
        "detect_every": args.detect_every,
        "detection_size": args.detection_size or None,
        "detector_thresholds": tuple(args.detector_thresholds),
        "max_faces": args.max_faces,
        "batch_size": args.batch_size,
        "progress": not args.no_progress,
        "landmarks": args.landmarks,
        "align_from": args.align_from,
        "crop": args.crop,
    }


def run(args: argparse.Namespace) -> int:
    """Runs the prediction; prints a summary with frames per second per stage."""
    from tfau.inference import IMAGE_EXTENSIONS, Predictor

    if (args.model is None) == (args.view_classifier is None):
        raise SystemExit("tfau predict: pass --model, or --view_classifier with --view_model.")
    try:
        if args.view_classifier is not None:
            multiview = multiview_predictor(args)
            result = multiview.predict_video(args.input, args.out, max_frames=args.max_frames)
            print(
                f"view {result.view} (probabilities "
                f"{', '.join(f'{p:.2f}' for p in result.view_probabilities)}; "
                f"{result.view_faces} faces)"
            )
            print_summary(result.prediction, multiview.models[result.view])
            return 0
        predictor = Predictor(
            args.model,
            aus=args.aus,
            model_name=args.model_name,
            mean=args.mean,
            **predictor_options(args),
        )
        source = args.input
        if source.isdigit() and not os.path.exists(source):
            summary = predictor.predict_video(int(source), args.out, max_frames=args.max_frames)
        elif os.path.isdir(source) or source.lower().endswith(IMAGE_EXTENSIONS):
            summary = predictor.predict_images(
                source, args.out, sequence=not args.independent_images, fps=args.fps
            )
        else:
            summary = predictor.predict_video(source, args.out, max_frames=args.max_frames)
    except (FileNotFoundError, ImportError, ValueError) as error:
        raise SystemExit(f"tfau predict: {error}") from None
    print_summary(summary, predictor.model)
    return 0


def print_summary(summary: Any, model: Any) -> None:
    """Prints what a run wrote and how fast each stage went."""
    print(
        f"{summary.frames} frames -> {summary.csv_path} ({model.model_name}, "
        f"{', '.join(model.au_names)})"
    )
    print(
        f"  {summary.face_rows} face rows, {summary.face_ids} face ids, "
        f"{summary.frames_without_face} frames without a face (success=0), "
        f"{summary.detections} detector runs"
    )
    stages = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in summary.stage_seconds.items())
    print(f"  {summary.fps:.1f} frames/s end to end ({summary.seconds:.1f}s: {stages})")
    if summary.interrupted:
        print("  interrupted: the frames read before Ctrl-C are written")
