"""``tfau plot <kind>``: the figures of tfau.plots from files on disk (PNG out).

Kinds:
    timeline          AU timeline of each face of a ``tfau predict`` CSV.
    f1                per-AU F1 bars beside the paper's, from a results ``summary.csv``.
    cooccurrence      AU co-occurrence (Jaccard) of labels (PAttNet Fig. 3).
    relations         correlation tables of labels and predictions (DRML Fig. 5).
    saliency          gradient saliency of a trained model on one face (DRML Fig. 4).
    occlusion         occlusion heat maps of a trained model on one face (AUNets Fig. 5).
    attention         a JAA-Net's predefined vs refined attention maps (JAA-Net Fig. 4).
    eacnet-attention  EAC-Net's attention map from a face's landmarks (EAC-Net Fig. 3).
    patch-attention   PAttNet's AU x patch attention matrix of per-AU models (PAttNet Fig. 4).

Labels and predictions are ``.npy`` arrays ``(num_frames, num_aus)`` (labels 1 / 0 / -1,
with ``--aus``) or OpenFace-style CSVs (``AUxx_c`` occurrences as labels, ``AUxx_p``
probabilities as predictions; rows with ``success`` 0 left out). Faces are aligned face
images (the dataset's aligned faces, e.g. from a ``tfau synth`` layout); landmarks ``.npy``
``(49, 2)`` in that image's pixels. A model's registry name, AUs, face size and mean are read
from the ``model.json`` beside a ``.keras`` file when it exists.

Example:
    tfau plot timeline video.csv --out plots/ --smooth 5
    tfau plot f1 runs/drml/results/summary.csv --out f1.png --paper drml --dataset bp4d
    tfau plot saliency --model runs/drml/fold1/model.keras --face face.png --out sal.png
    tfau plot attention --model jaanet.keras --face face.png --out jaanet_attention.png
"""

from __future__ import annotations

import argparse
import os
from typing import Any

KINDS: tuple[str, ...] = (
    "timeline",
    "f1",
    "cooccurrence",
    "relations",
    "saliency",
    "occlusion",
    "attention",
    "eacnet-attention",
    "patch-attention",
)


def _model_arguments(parser: argparse.ArgumentParser, *, faces: bool = True) -> None:
    parser.add_argument("--model", required=True, help="trained model (.keras file)")
    if faces:
        parser.add_argument("--face", required=True, help="aligned face image (PNG/JPEG)")
        parser.add_argument(
            "--landmarks", default=None, help="(49, 2) .npy landmarks of the face, its pixels"
        )
    parser.add_argument(
        "--model_name", default=None, help="registry name (default: model.json or model name)"
    )
    parser.add_argument(
        "--aus", type=int, nargs="+", default=None, help="AU numbers of the model's outputs"
    )
    parser.add_argument(
        "--mean", type=float, nargs=3, default=None, help="training RGB mean (DRML), 0-255"
    )


def register(subparsers: Any) -> None:
    """Adds the ``plot`` verb (with one sub-command per kind) to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "plot",
        help="draw AU timelines, attention/saliency/occlusion maps, AU relations, F1 bars",
        description="Draws the figures of tfau.plots (PNG files) from files on disk.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="<kind>", required=True)

    timeline = kinds.add_parser("timeline", help="AU timeline per face of a predict CSV")
    timeline.add_argument("csv", help="OpenFace-style CSV written by `tfau predict`")
    timeline.add_argument("--out", required=True, help="output folder (one PNG per face)")
    timeline.add_argument("--aus", type=int, nargs="+", default=None, help="AUs to draw")
    timeline.add_argument(
        "--smooth", type=int, default=None, help="odd window of a median-smoothed curve"
    )
    timeline.add_argument("--threshold", type=float, default=0.5, help="threshold line")

    f1 = kinds.add_parser("f1", help="per-AU F1 bars beside the paper's")
    f1.add_argument("summary", help="summary.csv of a results folder (tfau cv)")
    f1.add_argument("--out", required=True, help="PNG file")
    f1.add_argument("--paper", default=None, help="paper key (drml, eacnet, ...) to compare")
    f1.add_argument("--dataset", default=None, help="bp4d or disfa (with --paper)")
    f1.add_argument("--title", default="tfau", help="chart title")

    cooccurrence = kinds.add_parser("cooccurrence", help="AU co-occurrence (Jaccard)")
    cooccurrence.add_argument("labels", help=".npy labels or AU CSV (AUxx_c)")
    cooccurrence.add_argument("--out", required=True, help="PNG file")
    cooccurrence.add_argument("--aus", type=int, nargs="+", default=None, help="AUs (.npy)")

    relations = kinds.add_parser("relations", help="correlation tables, labels vs predictions")
    relations.add_argument("labels", help=".npy labels or AU CSV (AUxx_c)")
    relations.add_argument("predictions", help=".npy probabilities or AU CSV (AUxx_p)")
    relations.add_argument("--out", required=True, help="PNG file")
    relations.add_argument("--aus", type=int, nargs="+", default=None, help="AUs (.npy)")
    relations.add_argument("--name", default="prediction", help="panel name of the model")
    relations.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="binarise predictions at this threshold; negative: correlate probabilities",
    )

    saliency = kinds.add_parser("saliency", help="gradient saliency of a model on one face")
    _model_arguments(saliency)
    saliency.add_argument("--out", required=True, help="PNG file")

    occlusion = kinds.add_parser("occlusion", help="occlusion heat maps of a model on one face")
    _model_arguments(occlusion)
    occlusion.add_argument("--out", required=True, help="PNG file")
    occlusion.add_argument("--patch_size", type=int, default=None, help="default: input / 8")
    occlusion.add_argument("--stride", type=int, default=None, help="default: patch / 2")
    occlusion.add_argument("--batch_size", type=int, default=32, help="occluded images per pass")

    attention = kinds.add_parser("attention", help="JAA-Net predefined vs refined maps")
    _model_arguments(attention)
    attention.add_argument("--out", required=True, help="PNG file")

    eacnet = kinds.add_parser("eacnet-attention", help="EAC-Net attention map of a face")
    eacnet.add_argument("--face", required=True, help="face image (PNG/JPEG)")
    eacnet.add_argument("--landmarks", required=True, help="(49, 2) .npy landmarks, its pixels")
    eacnet.add_argument("--aus", type=int, nargs="+", default=None, help="one map per AU")
    eacnet.add_argument("--out", required=True, help="PNG file")

    patch = kinds.add_parser("patch-attention", help="PAttNet AU x patch attention matrix")
    patch.add_argument("--models", nargs="+", required=True, help="one .keras model per AU")
    patch.add_argument("--aus", type=int, nargs="+", required=True, help="AU of each model")
    patch.add_argument("--faces", nargs="+", required=True, help="aligned face images")
    patch.add_argument(
        "--landmarks", nargs="+", required=True, help="(49, 2) .npy landmarks per face"
    )
    patch.add_argument(
        "--model_name", default=None, help="registry name (default: model.json, PAttNet)"
    )
    patch.add_argument("--out", required=True, help="PNG file")
    parser.set_defaults(func=run)


def read_au_table(path: str, kind: str, aus: list[int] | None) -> tuple[Any, tuple[int, ...]]:
    """``(values (N, A), aus)`` from a ``.npy`` array or an AU CSV's ``AUxx_<kind>`` columns.

    Args:
        path: ``.npy`` file or OpenFace-style CSV.
        kind: ``"c"`` (occurrence, used as labels) or ``"p"`` (probabilities).
        aus: AU numbers of a ``.npy`` array's columns (required for ``.npy``).
    """
    import numpy as np

    from tfau.plots import read_au_csv

    if path.endswith(".npy"):
        values = np.load(path)
        if values.ndim != 2:
            raise SystemExit(f"{path}: expected (num_frames, num_aus). Found shape {values.shape}")
        if aus is None or len(aus) != values.shape[1]:
            raise SystemExit(
                f"{path} has {values.shape[1]} columns: pass --aus with as many AU numbers. "
                f"Received: --aus {aus}"
            )
        return values, tuple(aus)
    tracks = read_au_csv(path)
    name = "occurrence" if kind == "c" else "probability"
    blocks = []
    for track in tracks.values():
        values = getattr(track, name)
        if values is None:
            raise SystemExit(f"{path} has no AUxx_{kind} columns.")
        blocks.append(values[track.success])
    if not blocks:
        raise SystemExit(f"{path} has no face rows.")
    table = np.concatenate(blocks)
    found = next(iter(tracks.values())).aus
    if aus is not None:
        missing = [au for au in aus if au not in found]
        if missing:
            raise SystemExit(f"{path} has no columns for AUs {missing}. Found AUs {list(found)}")
        table = table[:, [found.index(au) for au in aus]]
        found = tuple(aus)
    return table, found


def _load_model(args: argparse.Namespace, path: str) -> tuple[Any, str, Any]:
    """``(model, registry name, ModelInfo or None)``."""
    from tfau.cli.export import resolve_model_name
    from tfau.model_files import load_keras_model, read_model_info

    info = read_model_info(path)
    model = load_keras_model(path)
    name = resolve_model_name(
        getattr(args, "model_name", None) or (info.model_name if info else None), model.name
    )
    return model, name, info


def _model_aus(args: argparse.Namespace, model: Any, info: Any) -> tuple[int, ...]:
    aus = args.aus or (list(info.aus) if info else None)
    num_outputs = int(model.output["au"].shape[-1])
    if aus is None:
        raise SystemExit(
            f"{args.model} has no model.json beside it: pass --aus (the AU numbers of its "
            f"{num_outputs} output columns)."
        )
    if len(aus) != num_outputs:
        raise SystemExit(
            f"--aus names {len(aus)} AUs but the model has {num_outputs} outputs: {list(aus)}"
        )
    return tuple(aus)


def network_inputs(
    model: Any,
    model_name: str,
    face_path: str,
    landmarks_path: str | None,
    mean: Any = None,
    pipeline_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One aligned face (and landmarks) through the network's test-time pipeline.

    Returns:
        The model's inputs without a batch axis (numpy), as `tfau.data` prepares them.
    """
    import cv2
    import numpy as np
    import tensorflow as tf

    from tfau.data.pipelines import preprocess_example
    from tfau.export import infer_config

    face = cv2.imread(face_path, cv2.IMREAD_COLOR)
    if face is None:
        raise SystemExit(f"Cannot read the face image {face_path!r}.")
    face = cv2.cvtColor(face, cv2.COLOR_BGR2RGB)
    if face.shape[0] != face.shape[1]:
        raise SystemExit(
            f"{face_path}: expected a square aligned face. Found {face.shape[1]} x "
            f"{face.shape[0]} pixels."
        )
    config = infer_config(model, model_name, face_size=face.shape[0], **(pipeline_kwargs or {}))
    needs_landmarks = "landmarks" in config.inputs or "patches" in config.inputs
    if landmarks_path is None:
        if needs_landmarks:
            raise SystemExit(
                f"{model_name} takes landmarks: pass --landmarks, a (49, 2) .npy of the face's "
                "landmarks in its pixels."
            )
        landmarks = np.zeros((49, 2), np.float32)
    else:
        landmarks = np.load(landmarks_path).astype(np.float32)
        if landmarks.shape != (49, 2):
            raise SystemExit(
                f"{landmarks_path}: expected (49, 2) landmarks. Found shape {landmarks.shape}"
            )
    example = {
        "image": tf.constant(face),
        "landmarks": landmarks,
        "au": tf.zeros([int(model.output["au"].shape[-1])], tf.int64),
    }
    inputs, _ = preprocess_example(example, config, training=False, mean=mean)
    return {key: np.asarray(value) for key, value in inputs.items()}


def _model_plot(args: argparse.Namespace) -> str:
    from tfau import plots

    model, name, info = _load_model(args, args.model)
    aus = _model_aus(args, model, info)
    inputs = network_inputs(
        model,
        name,
        args.face,
        args.landmarks,
        mean=args.mean or (info.mean if info else None),
        pipeline_kwargs=info.pipeline_kwargs if info else None,
    )
    if "image" not in inputs:
        raise SystemExit(f"{args.kind} needs a network with an image input; {name} takes patches.")
    image = inputs["image"]
    if args.kind == "saliency":
        return plots.plot_saliency(args.out, image, plots.saliency_maps(model, inputs), aus)
    if args.kind == "occlusion":
        size = image.shape[0]
        patch_size = args.patch_size or max(1, size // 8)
        stride = args.stride or max(1, patch_size // 2)
        drops = plots.occlusion_drops(model, inputs, patch_size, stride, batch_size=args.batch_size)
        heat = plots.occlusion_heatmap(drops, image.shape[:2], patch_size, stride)
        return plots.plot_occlusion(args.out, image, heat, aus)
    initial, refined = plots.jaanet_attention(model, inputs)
    return plots.plot_jaanet_attention(args.out, image, initial, refined, aus)


def _patch_attention(args: argparse.Namespace) -> str:
    import numpy as np

    from tfau import plots

    if len(args.models) != len(args.aus):
        raise SystemExit(
            f"--models and --aus must pair up: {len(args.models)} models, {len(args.aus)} AUs."
        )
    if len(args.faces) != len(args.landmarks):
        raise SystemExit(
            f"--faces and --landmarks must pair up: {len(args.faces)} faces, "
            f"{len(args.landmarks)} landmark files."
        )
    models = {}
    patches = None
    for au, path in zip(args.aus, args.models, strict=True):
        model, name, info = _load_model(args, path)
        models[au] = model
        if patches is None:
            patches = np.stack(
                [
                    network_inputs(
                        model,
                        name,
                        face,
                        landmarks,
                        pipeline_kwargs=info.pipeline_kwargs if info else None,
                    )["patches"]
                    for face, landmarks in zip(args.faces, args.landmarks, strict=True)
                ]
            )
    aus, matrix = plots.patch_attention_matrix(models, patches)
    return plots.plot_patch_attention(args.out, matrix, aus)


def run(args: argparse.Namespace) -> int:
    """Draws the figure of ``args.kind`` and prints the written path(s)."""
    import numpy as np

    from tfau import plots

    if args.kind == "timeline":
        paths = plots.plot_timeline(
            args.csv, args.out, aus=args.aus, smooth_window=args.smooth, threshold=args.threshold
        )
    elif args.kind == "f1":
        aus, f1, paper_row = plots.read_f1_summary(args.summary)
        if args.paper is not None:
            from tfau.training.paper_results import paper_result

            if args.dataset is None:
                raise SystemExit("--paper needs --dataset (bp4d or disfa).")
            paper = paper_result(args.paper, args.dataset)
            per_au = paper.per_au
            paper_row = np.array([per_au.get(au, np.nan) for au in aus] + [paper.reported_mean])
        paths = [plots.plot_f1_vs_paper(args.out, aus, f1, paper_row, title=args.title)]
    elif args.kind == "cooccurrence":
        labels, aus = read_au_table(args.labels, "c", args.aus)
        paths = [plots.plot_cooccurrence(args.out, plots.jaccard_matrix(labels), aus)]
    elif args.kind == "relations":
        labels, aus = read_au_table(args.labels, "c", args.aus)
        predictions, _ = read_au_table(args.predictions, "p", list(aus))
        if len(predictions) != len(labels):
            raise SystemExit(
                f"{args.labels} has {len(labels)} frames but {args.predictions} has "
                f"{len(predictions)}: they must be the same frames in the same order."
            )
        threshold = None if args.threshold < 0 else args.threshold
        tables = plots.relation_tables(labels, predictions, threshold=threshold)
        print(f"relation distance (mean squared difference): {tables['distance']:.4f}")
        panels = {"ground truth": tables["ground_truth"], args.name: tables["prediction"]}
        paths = [plots.plot_relations(args.out, panels, aus)]
    elif args.kind in ("saliency", "occlusion", "attention"):
        paths = [_model_plot(args)]
    elif args.kind == "eacnet-attention":
        import cv2

        face = cv2.imread(args.face, cv2.IMREAD_COLOR)
        if face is None:
            raise SystemExit(f"Cannot read the face image {args.face!r}.")
        face = cv2.cvtColor(face, cv2.COLOR_BGR2RGB)
        landmarks = np.load(args.landmarks)
        paths = [plots.plot_eacnet_attention(args.out, face, landmarks, aus=args.aus)]
    else:
        paths = [_patch_attention(args)]
    for path in paths:
        print(os.fspath(path))
    return 0
