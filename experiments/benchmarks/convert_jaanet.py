"""tfau's converted JAA-Net against the authors' PyTorch code, output by output.

Given a folder with the authors' code (ZhiwenShao/PyTorch-JAANet: ``network.py`` and its
``data/``), builds their six modules with random weights (fixed seed; BatchNorm statistics and
affine parameters randomised, so that epsilon and folding mistakes show), saves them as their
training script does (``<module>_<epoch>.pth``), converts the folder with ``tfau convert
jaanet`` and runs both networks in inference mode on the same faces: the authors' two sample
BP4D faces (centre crop 176 of 200, ``(x / 255 - 0.5) / 0.5`` as their ``image_test``) and
random images. The landmark head's bias is set to the authors' sample landmark sets (shifted
into the crop, plus a few pixels of noise per face) so that the attention maps are those of
real faces; its weights are scaled so that the landmarks move with the input by up to 5
pixels.

Printed per dataset and version: the max relative difference (``max |tfau - authors| /
max |authors|``) of the region-learning features (pool2), the AU probabilities, the 49
landmarks (and their offsets from the head's bias), the initial 52 x 52 attention maps and the
refined 44 x 44 maps; then the same for tfau networks that differ from the authors'
code in one respect (tfau's own defaults), to show what each conversion choice is worth.

Usage::

    python experiments/benchmarks/convert_jaanet.py --authors_dir /path/to/PyTorch-JAANet
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import torch
from PIL import Image

import tfau.convert.jaanet as convert_jaanet
from tfau.convert.state_dict import load_slots, save_state_dict
from tfau.models.jaanet import JAANet

CROP, FACE, MAP = 176, 200, 44
DATASETS = {"bp4d": 12, "disfa": 8}


def authors_modules(network, au_num: int, version: str, seed: int) -> dict:
    torch.manual_seed(seed)
    local = "LocalAUNetv2" if version == "v2" else "LocalAUNetv1"
    modules = {
        "region_learning": network.HMRegionLearning(input_dim=3, unit_dim=8),
        "align_net": network.AlignNet(
            crop_size=CROP, map_size=MAP, au_num=au_num, land_num=49, input_dim=64
        ),
        "local_attention_refine": network.LocalAttentionRefine(au_num=au_num, unit_dim=8),
        "local_au_net": network.network_dict[local](au_num=au_num, input_dim=64, unit_dim=8),
        "global_au_feat": network.HLFeatExtractor(input_dim=64, unit_dim=8),
        "au_net": network.AUNet(au_num=au_num, input_dim=12000, unit_dim=8),
    }
    with torch.no_grad():
        for module in modules.values():
            for layer in module.modules():
                if isinstance(layer, torch.nn.BatchNorm2d):
                    layer.weight.uniform_(0.5, 1.5)
                    layer.bias.normal_(0.0, 0.2)
                    layer.running_mean.normal_(0.0, 0.2)
                    layer.running_var.uniform_(0.5, 1.5)
            module.eval()
    return modules


def sample_faces(authors_dir: Path, rng: np.random.Generator, num_random: int) -> np.ndarray:
    """(N, 176, 176, 3) float32 in [-1, 1]: the authors' BP4D samples, then random images."""
    faces = []
    for path in sorted((authors_dir / "data" / "imgs" / "BP4D").rglob("*.jpg")):
        image = np.asarray(Image.open(path).convert("RGB"), np.float32)
        top = round((image.shape[0] - CROP) / 2.0)
        left = round((image.shape[1] - CROP) / 2.0)
        faces.append((image[top : top + CROP, left : left + CROP] / 255.0 - 0.5) / 0.5)
    faces += [rng.uniform(-1, 1, (CROP, CROP, 3)).astype(np.float32) for _ in range(num_random)]
    return np.stack(faces).astype(np.float32)


def landmark_sets(authors_dir: Path) -> np.ndarray:
    sets = [
        np.loadtxt(path, ndmin=2)
        for path in sorted((authors_dir / "data" / "list").glob("*_combine_1_2_land.txt"))
    ]
    return np.concatenate(sets).astype(np.float32) - (FACE - CROP) / 2  # into the crop


def authors_forward(modules: dict, faces: np.ndarray) -> dict:
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(faces.transpose(0, 3, 1, 2)))
        region = modules["region_learning"](x)
        align_feat, landmarks, initial = modules["align_net"](region)
        refined = modules["local_attention_refine"](initial.detach())
        local = modules["local_au_net"](region, refined)
        if isinstance(local, tuple):  # v2: (features, per-AU local outputs)
            local = local[0]
        global_feat = modules["global_au_feat"](region)
        au = modules["au_net"](torch.cat((align_feat, global_feat, local), 1))[:, 1, :].exp()
        head_bias = modules["align_net"].align_output[1].bias.detach()
    return {
        "pool2": region.numpy().transpose(0, 2, 3, 1),
        "au": au.numpy(),
        "landmarks": landmarks.numpy().reshape(-1, 49, 2),
        "landmark offsets": (landmarks - head_bias).numpy().reshape(-1, 49, 2),
        "attention_initial": initial.numpy().transpose(0, 2, 3, 1),
        "attention": refined.numpy().transpose(0, 2, 3, 1),
    }


def tfau_forward(model: keras.Model, faces: np.ndarray) -> dict:
    probe = keras.Model(
        model.inputs,
        {
            **model.output,
            "pool2": model.get_layer("jaanet_region2_pool").output,
            "initial52": model.get_layer("jaanet_attention_initial_padded").output,
        },
    )
    outputs = {k: np.asarray(v) for k, v in probe({"image": faces}, training=False).items()}
    head_bias = model.get_layer("jaanet_align_fc2").bias.numpy().reshape(49, 2)
    return {
        "pool2": outputs["pool2"],
        "au": outputs["au"],
        "landmarks": outputs["landmarks"],
        "landmark offsets": outputs["landmarks"] - head_bias,
        "attention_initial": outputs["initial52"],
        "attention": outputs["attention"],
    }


def relative(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-12))


def variant(state_dicts: dict, dataset: str, **overrides) -> keras.Model:
    """The converted network with one of tfau's own choices instead of the authors'."""
    kwargs = dict(
        input_size=CROP,
        aus=convert_jaanet.DATASET_AUS[dataset],
        c=8,
        d=512,
        centre_rounding="round",
        local_reduction="mean",
        attention_target="nearest",
        bn_epsilon=1e-5,
    )
    model = JAANet(**{**kwargs, **overrides})
    load_slots(*convert_jaanet.jaanet_slots(model), state_dicts, convert_jaanet.IGNORED)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors_dir", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random_faces", type=int, default=6)
    args = parser.parse_args()
    sys.path.insert(0, str(args.authors_dir))
    import network  # the authors' module

    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    faces = sample_faces(args.authors_dir, rng, args.random_faces)
    base_landmarks = landmark_sets(args.authors_dir)
    keys = ("pool2", "au", "landmarks", "landmark offsets", "attention_initial", "attention")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {len(faces)} faces, torch {torch.__version__}")
    print("| dataset | version | tfau network | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for dataset, au_num in DATASETS.items():
        for version in ("v1", "v2"):
            modules = authors_modules(network, au_num, version, args.seed)
            head = modules["align_net"].align_output[1]
            with torch.no_grad():
                # Landmarks that move by up to 5 pixels with the input around a real face.
                head.bias.zero_()
                offsets = authors_forward(modules, faces)["landmarks"]
                head.weight.mul_(5.0 / np.abs(offsets).max())
                landmarks = base_landmarks[rng.integers(len(base_landmarks))]
                head.bias.copy_(torch.from_numpy(landmarks + rng.normal(0, 2, landmarks.shape)))
            reference = authors_forward(modules, faces)
            with tempfile.TemporaryDirectory() as folder:
                for name, module in modules.items():
                    state = {k: v.numpy() for k, v in module.state_dict().items()}
                    save_state_dict(state, Path(folder) / f"{name}_3.pth")
                out = Path(folder) / "jaanet.keras"
                start = time.perf_counter()
                convert_jaanet.convert(folder, out, epoch=3, dataset=dataset)
                seconds = time.perf_counter() - start
                model = keras.saving.load_model(out, safe_mode=True)
                _, state_dicts = convert_jaanet.read_snapshot(folder, 3)
            ours = tfau_forward(model, faces)
            cells = " | ".join(f"{relative(ours[k], reference[k]):.1e}" for k in keys)
            print(f"| {dataset} | {version} | converted ({seconds:.1f} s) | {cells} |")
            if version == "v2":
                continue
            for label, overrides in (
                ("centres floor((x + 0.5) s)", {"centre_rounding": "half_pixel"}),
                ("local branches summed", {"local_reduction": "sum"}),
                ("BatchNorm epsilon 1e-3", {"bn_epsilon": 1e-3}),
            ):
                ours = tfau_forward(variant(state_dicts, dataset, **overrides), faces)
                cells = " | ".join(f"{relative(ours[k], reference[k]):.1e}" for k in keys)
                print(f"| {dataset} | {version} | {label} | {cells} |")


if __name__ == "__main__":
    main()
