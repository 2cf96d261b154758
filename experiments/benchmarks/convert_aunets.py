"""tfau's converted AUNets against the authors' PyTorch code, output by output.

Given a folder with the authors' code (BCV-Uniandes/AUNets: ``models/vgg16.py`` and
``models/vgg_pytorch.py``), builds their eight variants with random weights (fixed seed; every
weight at He fan-in scale so that the logit moves with the input, every bias drawn from
N(0, 0.05); eval mode): the seven ``Classifier(OF_option=...)`` networks and a HydraNet of
three per-AU RGB classifiers sharing one encoder (their ``--HYDRA`` trains only
``model.classifier``). Each is saved as their
solver saves it (``torch.save(C.state_dict())``, in the legacy non-zip format of the PyTorch
0.3.1 files, in the authors' ``AU<nn>/OF_<option>/emotionnet`` folders), converted through
the files with ``tfau.convert.aunets`` (``.keras`` + ``model.json``, loaded back with
``safe_mode=True``) and both run on the same normalised input (``x / 255 - mean`` range:
random 16 px blocks plus noise in [0, 1), minus the ImageNet mean).

Printed per variant: the max relative difference (``max |tfau - authors| / max |authors|``)
of the logit and of the probability (per AU column for the HydraNet), the spread of the
authors' logits over the batch, and the times. Two control rows show what the comparison
catches: fc6 loaded with a plain transpose (no NCHW -> NHWC row order), and pi/fc7 with
``classifier_of`` on the flow stream (what their forward does not do). Finally the authors'
test-time preprocessing (PIL ``ANTIALIAS`` resize, ``ToTensor``, ``Normalize(mean, std 1)``)
against tfau's pipeline from the written ``model.json`` on their ``Demo`` faces.

Usage::

    python experiments/benchmarks/convert_aunets.py --authors_dir /path/to/AUNets

No shim is needed: their modules import and run under torch 2.x as they are.
"""

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
import torch
from PIL import Image

import tfau.convert.aunets as convert_aunets
from tfau.data import get_config
from tfau.data.pipelines import preprocess_example

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
HYDRA_AUS = (1, 12, 24)


def authors_classifier(option: str, seed: int):
    from models.vgg16 import Classifier  # the authors' module

    torch.manual_seed(seed)
    net = Classifier(pretrained="random", OF_option=option)
    with torch.no_grad():
        for layer in net.modules():
            # He (fan-in) scale instead of their fan-out convolutions and N(0, 0.01) linear
            # layers, which shrink the signal so much that the biases alone set the logit.
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.normal_(0.0, (2.0 / (layer.in_channels * 9)) ** 0.5)
            elif isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0.0, (2.0 / layer.in_features) ** 0.5)
            if isinstance(layer, torch.nn.Conv2d | torch.nn.Linear):
                layer.bias.normal_(0.0, 0.05)
    return net.eval()


def random_images(rng: np.random.Generator, batch: int, size: int) -> np.ndarray:
    """Normalised random images in their range: 16 px blocks (structure that differs from
    image to image, so the logits spread) plus pixel noise, in [0, 1), minus the mean."""
    blocks = rng.random((batch, size // 16, size // 16, 3), dtype=np.float32)
    blocks = blocks.repeat(16, axis=1).repeat(16, axis=2)
    noise = rng.random((batch, size, size, 3), dtype=np.float32)
    return (0.8 * blocks + 0.2 * noise - MEAN).astype(np.float32)


def authors_logits(net, option: str, image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(0, 3, 1, 2)))
        of = torch.from_numpy(np.ascontiguousarray(flow.transpose(0, 3, 1, 2)))
        return (net(x) if option == "None" else net(x, OF=of)).numpy()


def save_like_the_authors(net, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=False)
    return path


def logits_model(model: keras.Model, layer: str) -> keras.Model:
    return keras.Model(model.inputs, model.get_layer(layer).output)


def run(model: keras.Model, inputs: dict) -> np.ndarray:
    return np.asarray(model({t.name: inputs[t.name] for t in model.inputs}, training=False))


def relative(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-12))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def row(name, tfau_name, params, logit, probability, spread, convert_s, theirs_s, ours_s):
    """One table row; None leaves a cell empty."""

    def cell(value, spec):
        return "" if value is None else format(value, spec)

    return (
        f"| {name} | {tfau_name or ''} | {cell(params and params / 1e6, '.1f')}"
        f"{'M' if params else ''} | {logit:.1e} | {probability:.1e} | {spread:.2f} | "
        f"{cell(convert_s, '.1f')} | {cell(theirs_s, '.1f')} | {cell(ours_s, '.1f')} |"
    )


def compare_option(option: str, seed: int, inputs: dict, folder: Path) -> list[str]:
    net = authors_classifier(option, seed)
    start = time.perf_counter()
    reference = authors_logits(net, option, inputs["image"], inputs["flow"])
    theirs_s = time.perf_counter() - start
    path = save_like_the_authors(
        net, folder / "fold_0" / "AU12" / f"OF_{option}" / "emotionnet" / "02_1800.pth"
    )
    del net
    gc.collect()
    out = folder / f"aunet_{option}.keras"
    start = time.perf_counter()
    convert_aunets.convert(path, out, au=12, of_option=option)
    convert_s = time.perf_counter() - start
    gc.collect()
    model = keras.saving.load_model(out, safe_mode=True)
    probe = logits_model(model, f"{model.name}_au_logits")
    start = time.perf_counter()
    ours = run(probe, inputs)
    ours_s = time.perf_counter() - start
    probability = run(keras.Model(model.inputs, model.output["au"]), inputs)
    name = convert_aunets.MODEL_NAMES[option]
    rows = [
        row(
            f"OF {option}",
            name,
            model.count_params(),
            relative(ours, reference),
            relative(probability, sigmoid(reference)),
            float(np.ptp(reference)),
            convert_s,
            theirs_s,
            ours_s,
        )
    ]
    state_dict = convert_aunets.load_state_dict(path)
    if option == "None":
        fc6 = model.get_layer("aunet_fc6")
        fc6.kernel.assign(state_dict["model.classifier.0.weight"].T)
        rows.append(
            f"| control: OF None, fc6 rows in NCHW order | | | "
            f"{relative(run(probe, inputs), reference):.1e} | | | | | |"
        )
    if option == "FC7":
        for fc, index in (("fc6", 0), ("fc7", 3)):
            layer = model.get_layer(f"aunet_pi_fc7_flow_{fc}")
            layer.kernel.assign(state_dict[f"model.classifier_of.{index}.weight"].T)
            layer.bias.assign(state_dict[f"model.classifier_of.{index}.bias"])
        rows.append(
            f"| control: OF FC7, classifier_of on the flow stream | | | "
            f"{relative(run(probe, inputs), reference):.1e} | | | | | |"
        )
    for file in (path, out):
        file.unlink()
    return rows


def compare_hydranet(seed: int, inputs: dict, folder: Path) -> list[str]:
    paths, references, theirs_s = [], [], 0.0
    encoder = None
    for index, au in enumerate(HYDRA_AUS):
        net = authors_classifier("None", seed + index)
        if encoder is None:
            encoder = {k: v.clone() for k, v in net.model.features.state_dict().items()}
        else:
            net.model.features.load_state_dict(encoder)
        start = time.perf_counter()
        references.append(authors_logits(net, "None", inputs["image"], inputs["flow"])[:, 0])
        theirs_s += time.perf_counter() - start
        paths.append(
            save_like_the_authors(
                net, folder / f"AU{au:02d}" / "HYDRA" / "OF_None" / "emotionnet" / "02_1800.pth"
            )
        )
        del net
        gc.collect()
    out = folder / "hydranet.keras"
    start = time.perf_counter()
    convert_aunets.convert_hydranet(paths, out, aus=list(HYDRA_AUS))
    convert_s = time.perf_counter() - start
    gc.collect()
    model = keras.saving.load_model(out, safe_mode=True)
    start = time.perf_counter()
    logits = run(
        keras.Model(
            model.inputs, [model.get_layer(f"hydranet_au{au}_logits").output for au in HYDRA_AUS]
        ),
        inputs,
    )
    ours_s = time.perf_counter() - start
    probabilities = run(keras.Model(model.inputs, model.output["au"]), inputs)
    rows = []
    for column, au in enumerate(HYDRA_AUS):
        reference = references[column]
        rows.append(
            row(
                f"HydraNet AU{au}",
                "HydraNet" if column == 0 else None,
                model.count_params() if column == 0 else None,
                relative(logits[column][:, 0], reference),
                relative(probabilities[:, column], sigmoid(reference)),
                float(np.ptp(reference)),
                convert_s if column == 0 else None,
                theirs_s if column == 0 else None,
                ours_s if column == 0 else None,
            )
        )
    for file in (*paths, out):
        file.unlink()
    return rows


def their_transform(path: Path, size: int) -> np.ndarray:
    """Their test transform: Resize((224, 224), ANTIALIAS), ToTensor, Normalize(mean, 1)."""
    image = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, np.float32) / 255.0 - MEAN


def compare_preprocessing(authors_dir: Path, folder: Path, seed: int) -> list[str]:
    """Their transform vs tfau's pipeline (model.json) on their Demo faces, same weights."""
    net = authors_classifier("None", seed)
    path = save_like_the_authors(net, folder / "AU12" / "OF_None" / "emotionnet" / "01.pth")
    out = folder / "aunet.keras"
    convert_aunets.convert(path, out, au=12)
    info = json.loads(out.with_suffix(".json").read_text())
    config = get_config(info["model_name"], **info["pipeline_kwargs"])
    files = sorted((authors_dir / "Demo").glob("*.jpg"))
    theirs = np.stack([their_transform(f, config.input_size) for f in files])
    ours = []
    for file in files:
        example = {
            "image": tf.io.read_file(str(file)),
            "landmarks": tf.zeros([49, 2]),
            "au": tf.zeros([1]),
        }
        ours.append(preprocess_example(example, config, training=False)[0]["image"].numpy())
    ours = np.stack(ours)
    reference = authors_logits(net, "None", theirs, theirs)
    model = keras.saving.load_model(out, safe_mode=True)
    logits = run(logits_model(model, "aunet_au_logits"), {"image": ours})
    size = Image.open(files[0]).size
    for file in (path, out):
        file.unlink()
    return [
        f"| their Demo faces ({len(files)}, {size[0]} x {size[1]}) | "
        f"{info['pipeline_kwargs']} | {np.abs(ours - theirs).max():.3f} | "
        f"{np.abs(ours - theirs).mean():.4f} | {relative(logits, reference):.1e} | "
        f"{np.abs(sigmoid(logits) - sigmoid(reference)).max():.1e} |"
    ]


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors_dir", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--options",
        nargs="*",
        default=[*convert_aunets.OF_OPTIONS, "HydraNet"],
        help="variants to compare (default: all eight)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(args.authors_dir))
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    size = convert_aunets.INPUT_SIZE
    inputs = {name: random_images(rng, args.batch, size) for name in ("image", "flow")}
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')}, {machine()}; torch {torch.__version__}, "
        f"TF {tf.__version__}, Keras {keras.__version__}; batch {args.batch} at {size} px"
    )
    print()
    print(
        "| variant | tfau network | parameters | logit rel. diff | probability rel. diff | "
        "authors' logit spread | convert s | authors fwd s | tfau fwd s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for index, option in enumerate(args.options):
            if option == "HydraNet":
                rows = compare_hydranet(args.seed + 100, inputs, folder)
            else:
                rows = compare_option(option, args.seed + index, inputs, folder)
            for line in rows:
                print(line, flush=True)
            keras.backend.clear_session()
            gc.collect()
        print()
        print(
            "| preprocessing | tfau pipeline_kwargs | input max abs diff | input mean abs diff "
            "| logit rel. diff | probability max abs diff |"
        )
        print("|---|---|---|---|---|---|")
        for line in compare_preprocessing(args.authors_dir, folder, args.seed + 200):
            print(line)
    print()
    print(f"# done {time.strftime('%H:%M')}, {machine()}")


if __name__ == "__main__":
    main()
