"""``tfau export``: a trained ``.keras`` model -> a SavedModel that serves with TF alone, or a
LiteRT ``.tflite`` file for fast CPU serving (``--format litert``, `tfau.export.litert`).

A model saved by training (``tfau cv``/``tfau demo``: ``model.keras`` with its ``model.json``)
needs no more than its path; the options below override or, for other ``.keras`` files,
supply what the sidecar would say.

Example:
    tfau export --model_path runs/demo/cv/seed0/part3/model.keras --out exported/drml
    tfau export --model_path runs/jaanet/model.keras --out exported/jaanet \\
        --aus 1 2 4 6 7 10 12 14 15 17 23 24
    tfau export --model_path drml.keras --out exported/drml --model_name DRML \\
        --aus 1 2 4 --mean 120.5 98.1 90.3
    tfau export --model_path runs/jaanet/model.keras --out jaanet.tflite --format litert
    tfau export --model_path drml.keras --out drml.tflite --format litert --quantize int8
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Adds the ``export`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "export",
        help="export a trained model as a SavedModel (faces / frames signatures)",
        description=(
            "Writes a SavedModel whose signatures 'faces' (= serving_default: aligned uint8 "
            "faces) and 'frames' (whole frames + 5 key points, aligned in the graph) include "
            "the network's preprocessing and serve without tfau installed."
        ),
    )
    parser.add_argument("--model_path", required=True, help="trained model (.keras file)")
    parser.add_argument(
        "--out", required=True, help="output folder of the SavedModel, or the .tflite file"
    )
    parser.add_argument(
        "--format",
        choices=("saved_model", "litert"),
        default="saved_model",
        help="saved_model (default) or litert: a .tflite file (uint8 faces in, AUs out) "
        "with a JSON sidecar, for LiteRT's XNNPACK CPU runtime (pip install 'tfau[litert]')",
    )
    parser.add_argument(
        "--quantize",
        choices=("auto", "none", "int8", "float16"),
        default=None,
        help="litert weights: int8 (dynamic range), float16, none (float32), or auto "
        "(default): the fastest keeping >= 99%% occurrence agreement with float32 on "
        "SynthAU faces and >= 10%% faster than float32 on this machine, else float32",
    )
    parser.add_argument(
        "--eval_faces",
        type=int,
        default=128,
        help="litert: SynthAU faces the quantisation is measured on (default 128)",
    )
    parser.add_argument(
        "--model_name",
        default=None,
        help="tfau.models registry name (e.g. JAANet); default: from the model's name",
    )
    parser.add_argument(
        "--aus",
        type=int,
        nargs="+",
        default=None,
        help="AU numbers of the model's output columns, in order (default: model.json)",
    )
    parser.add_argument(
        "--face_size",
        type=int,
        default=None,
        help="side of the aligned faces (default: model.json, else 200)",
    )
    parser.add_argument(
        "--mean",
        type=float,
        nargs=3,
        default=None,
        help="training RGB mean, 0-255 (networks that subtract it: DRML; default: model.json)",
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="occurrence threshold (default 0.5)"
    )
    parser.set_defaults(func=run)


def resolve_model_name(model_name: str | None, keras_name: str) -> str:
    """`tfau.export.resolve_model_name` with its error as a command-line message."""
    from tfau.export import resolve_model_name as resolve

    try:
        return resolve(model_name, keras_name)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def run(args: argparse.Namespace) -> int:
    """Loads the model and exports it; prints the signatures."""
    from tfau.export import export_model
    from tfau.export.saved_model import DEFAULT_OUTPUT_SIZE
    from tfau.model_files import load_keras_model, read_model_info

    info = read_model_info(args.model_path)
    model = load_keras_model(args.model_path)
    model_name = resolve_model_name(
        args.model_name or (info.model_name if info else None), model.name
    )
    aus = args.aus or (list(info.aus) if info else None)
    if aus is None:
        raise SystemExit(
            f"{args.model_path} has no model.json beside it: pass --aus (the AU numbers of its "
            "output columns)."
        )
    options = {
        "model_name": model_name,
        "aus": aus,
        "face_size": args.face_size or (info.face_size if info else DEFAULT_OUTPUT_SIZE),
        "threshold": args.threshold,
        "mean": args.mean or (info.mean if info else None),
        **(info.pipeline_kwargs if info else {}),
    }
    if args.format == "litert":
        return run_litert(model, args, options)
    if args.quantize is not None:
        raise SystemExit("error: --quantize applies to --format litert only.")
    metadata = export_model(model, args.out, **options)
    outputs = ", ".join(metadata["au_names"]) or "view probabilities"
    print(f"Exported {model_name} ({outputs}) to {args.out}")
    for name, inputs in metadata["signatures"].items():
        print(f"  signature {name!r}: inputs {', '.join(inputs)}")
    return 0


def run_litert(model: Any, args: argparse.Namespace, options: dict[str, Any]) -> int:
    """``--format litert``: writes the .tflite file and prints the quantisation's accuracy."""
    from tfau.export.litert import LiteRTUnavailableError, export_litert, format_accuracy

    try:
        metadata = export_litert(
            model,
            args.out,
            quantize=args.quantize or "auto",
            eval_faces=args.eval_faces,
            **options,
        )
    except (ValueError, LiteRTUnavailableError) as error:
        raise SystemExit(f"error: {error}") from None
    quantization = metadata["quantization"]
    print(
        f"Exported {metadata['model_name']} ({', '.join(metadata['au_names'])}) to {args.out} "
        f"({'float32' if quantization == 'none' else quantization} weights, "
        f"{metadata['size_bytes'] / 1e6:.1f} MB; sidecar {args.out}.json)"
    )
    print(format_accuracy(metadata))
    return 0
