"""tfau.convert.jaanet: the authors' JAA-Net checkpoint format -> tfau JAANet, and back.

The key-and-shape manifest (``jaanet_checkpoint_manifest.json``) lists, per released format
(BP4D / DISFA, v1 / v2), every tensor of the six module files, read from the authors' modules
(ZhiwenShao/PyTorch-JAANet network.py, unit_dim 8, crop 176); ``{i}`` stands for the index of
a grid cell or an AU, repeated ``count`` times. The authors' code itself is compared in
``experiments/benchmarks/convert_jaanet.py``; here each converted layer is compared with the
same computation written with torch's functional ops.
"""

import json
import re
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tfau.aus import BP4D_AUS, DATASET_AUS
from tfau.cli.main import main as tfau_main
from tfau.convert import jaanet as cj
from tfau.convert.state_dict import ConversionError, save_state_dict
from tfau.model_files import read_model_info

torch = pytest.importorskip("torch")
F = torch.nn.functional

MANIFEST = json.loads((Path(__file__).parent / "jaanet_checkpoint_manifest.json").read_text())

pytestmark = pytest.mark.slow  # full-size JAA-Net (22 M parameters) per test


def manifest_keys(name):
    """``{module: {key: shape}}`` of one released format."""
    out = {}
    for module, rows in MANIFEST[name].items():
        keys = out.setdefault(module, {})
        for pattern, shape, count in rows:
            for index in range(count):
                keys[pattern.replace("{i}", str(index))] = tuple(shape)
    return out


def random_snapshot(name, seed=0):
    """Random tensors of a format's keys and shapes (BatchNorm variances positive)."""
    rng = np.random.default_rng(seed)
    state = {}
    for module, keys in manifest_keys(name).items():
        tensors = state.setdefault(module, {})
        for key, shape in keys.items():
            if key.endswith("num_batches_tracked"):
                tensors[key] = np.zeros((), "float32")
            elif key.endswith("running_var"):
                tensors[key] = rng.uniform(0.5, 1.5, shape).astype("float32")
            else:
                tensors[key] = rng.normal(0, 0.1, shape).astype("float32")
    return state


def write_snapshot(folder, state, epoch=5, skip=()):
    folder.mkdir(parents=True, exist_ok=True)
    for module, tensors in state.items():
        if module not in skip:
            save_state_dict(tensors, folder / f"{module}_{epoch}.pth")
    return folder


@pytest.fixture(scope="module")
def bp4d_v2():
    return random_snapshot("bp4d_v2")


@pytest.fixture(scope="module")
def converted(bp4d_v2):
    return cj.from_state_dicts(bp4d_v2, "bp4d")


def t(array):
    return torch.from_numpy(np.ascontiguousarray(array))


def nchw(x):
    return t(np.transpose(x, (0, 3, 1, 2)))


def nhwc(y):
    return y.numpy().transpose(0, 2, 3, 1)


def bn(x, tensors, key):
    return F.batch_norm(
        x,
        t(tensors[f"{key}.running_mean"]),
        t(tensors[f"{key}.running_var"]),
        t(tensors[f"{key}.weight"]),
        t(tensors[f"{key}.bias"]),
        training=False,
        eps=1e-5,
    )


def conv(x, tensors, key, padding=1):
    return F.conv2d(x, t(tensors[f"{key}.weight"]), t(tensors[f"{key}.bias"]), padding=padding)


def close(ours, reference):
    ours, reference = np.asarray(ours), np.asarray(reference)
    assert np.abs(ours - reference).max() <= 1e-4 * np.abs(reference).max()


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_key_of_each_released_format_is_converted_or_named_ignored(name):
    state = random_snapshot(name)
    dataset = name.split("_")[0]
    model = cj.from_state_dicts(state, dataset)
    assert model.output["au"].shape[-1] == len(DATASET_AUS[dataset])
    # Back to the authors' layout: exactly their keys and shapes (v2's unused local heads
    # and the BatchNorm counters aside).
    back = cj.to_state_dicts(model)
    for module, keys in manifest_keys(name).items():
        expected = {k: s for k, s in keys.items() if not k.startswith("local_aus_output.")}
        assert {k: tuple(np.shape(v)) for k, v in back[module].items()} == expected


def test_hierarchical_region_block_equals_torch(bp4d_v2, converted):
    # multiscale_feat.0: conv (bias) -> three levels of per-cell BN-ReLU-conv on 8/4/2 grids
    # -> concatenate, add, BN, ReLU; cell k = row * grid + column.
    tensors = bp4d_v2["region_learning"]
    x = np.random.default_rng(3).normal(size=(2, 176, 176, 3)).astype("float32")
    key = "multiscale_feat.0"
    with torch.no_grad():
        base = conv(nchw(x), tensors, f"{key}.conv")
        level, levels = base, []
        for branch, grid in ((1, 8), (2, 4), (3, 2)):
            side = level.shape[2] // grid
            rows = []
            for i in range(grid):
                cells = []
                for j in range(grid):
                    cell = level[:, :, i * side : (i + 1) * side, j * side : (j + 1) * side]
                    k = i * grid + j
                    cell = F.relu(bn(cell, tensors, f"{key}.local_conv_branch{branch}.bns.{k}"))
                    cells.append(conv(cell, tensors, f"{key}.local_conv_branch{branch}.convs.{k}"))
                rows.append(torch.cat(cells, 3))
            level = torch.cat(rows, 2)
            levels.append(level)
        expected = F.relu(bn(base + torch.cat(levels, 1), tensors, f"{key}.bn"))
    ours = converted.get_layer("jaanet_region1_hmr")(x, training=False)
    close(ours, nhwc(expected))


def test_attention_refinement_equals_torch(bp4d_v2, converted):
    tensors = bp4d_v2["local_attention_refine"]
    maps = np.random.default_rng(4).uniform(size=(2, 52, 52, 12)).astype("float32")
    with torch.no_grad():
        refined = []
        for au in range(12):
            x = nchw(maps[..., au : au + 1])
            for index in (0, 3, 6):
                key = f"local_aus_attention.{au}"
                x = F.relu(bn(conv(x, tensors, f"{key}.{index}", 0), tensors, f"{key}.{index + 1}"))
            refined.append(torch.sigmoid(conv(x, tensors, f"local_aus_attention.{au}.9", 0)))
        expected = nhwc(torch.cat(refined, 1))
    close(converted.get_layer("jaanet_attention_refinement")(maps, training=False), expected)


def test_local_branches_average_like_torch(bp4d_v2, converted):
    tensors = bp4d_v2["local_au_net"]
    rng = np.random.default_rng(5)
    features = rng.normal(size=(2, 44, 44, 64)).astype("float32")
    maps = rng.uniform(size=(2, 44, 44, 12)).astype("float32")
    with torch.no_grad():
        total = 0
        for au in range(12):
            x = nchw(features * maps[..., au : au + 1])
            for index in (0, 3, 7, 10, 14, 17):
                key = f"local_aus_branch.{au}.feat_extract"
                x = F.relu(bn(conv(x, tensors, f"{key}.{index}"), tensors, f"{key}.{index + 1}"))
                if index in (3, 10, 17):
                    x = F.max_pool2d(x, 2)
            total = total + x
        expected = nhwc(total / 12)
    close(converted.get_layer("jaanet_local")([features, maps], training=False), expected)


def test_heads_read_nchw_flattened_features_like_torch(bp4d_v2, converted):
    rng = np.random.default_rng(6)
    blocks = [rng.normal(size=(2, 5, 5, 160)).astype("float32") for _ in range(3)]
    with torch.no_grad():
        flat = [nchw(b).flatten(1) for b in blocks]
        align = bp4d_v2["align_net"]
        expected_align = F.linear(
            flat[0], t(align["align_output.0.weight"]), t(align["align_output.0.bias"])
        )
        au = bp4d_v2["au_net"]
        expected_au = F.linear(
            torch.cat(flat, 1), t(au["au_output.0.weight"]), t(au["au_output.0.bias"])
        )
    ours_align = converted.get_layer("jaanet_align_fc1")(blocks[0].reshape(2, -1))
    close(ours_align, expected_align.numpy())
    features = np.concatenate([b.reshape(2, -1) for b in blocks], axis=1)
    close(converted.get_layer("jaanet_au_fc1")(features), expected_au.numpy())


def test_round_trip_through_the_authors_files_is_identical(tmp_path, converted):
    folder = write_snapshot(tmp_path / "snap", cj.to_state_dicts(converted), epoch=7)
    again = cj.convert(folder, tmp_path / "again.keras", epoch=7, dataset="bp4d")
    for ours, theirs in zip(converted.weights, again.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)


def test_cli_writes_a_safe_keras_model_and_its_description(tmp_path, bp4d_v2, converted):
    folder = write_snapshot(tmp_path / "snap", bp4d_v2, epoch=2)
    out = tmp_path / "jaanet.keras"
    argv = ["convert", "jaanet", "--snapshot_dir", str(folder), "--out", str(out)]
    assert tfau_main(argv) == 0  # --epoch defaults to the last complete one
    model = keras.saving.load_model(out, safe_mode=True)
    info = read_model_info(out)
    assert info.model_name == "JAANet" and info.aus == BP4D_AUS and info.face_size == 200
    assert info.pipeline_kwargs == {"input_size": 176, "source_size": 200}
    assert info.source["version"] == "v2" and info.source["epoch"] == 2
    image = np.random.default_rng(7).uniform(-1, 1, (1, 176, 176, 3)).astype("float32")
    close(model({"image": image})["au"], converted({"image": image})["au"])
    refinement = model.get_layer("jaanet_attention_refinement")
    assert refinement.epsilon == 1e-5 and refinement.batch_norms[0].epsilon == 1e-5
    assert model.get_layer("jaanet_attention_initial_padded").centre_rounding == "round"
    assert model.get_layer("jaanet_local").reduction == "mean"


def test_clear_errors(tmp_path, bp4d_v2, capsys):
    with pytest.raises(FileNotFoundError, match="No such snapshot folder"):
        cj.read_snapshot(tmp_path / "nowhere")
    folder = write_snapshot(tmp_path / "snap", bp4d_v2, epoch=4, skip=("au_net",))
    with pytest.raises(FileNotFoundError, match="no complete JAA-Net snapshot"):
        cj.read_snapshot(folder)
    with pytest.raises(FileNotFoundError, match=r"lacks au_net_4.pth. Complete epochs there: none"):
        cj.read_snapshot(folder, 4)
    write_snapshot(folder, bp4d_v2, epoch=6)
    with pytest.raises(FileNotFoundError, match=r"Epoch 5 .* Complete epochs there: \[6\]"):
        cj.read_snapshot(folder, 5)
    with pytest.raises(ConversionError, match=r"predicts 12 AUs, but dataset='disfa'.*'bp4d'"):
        cj.from_state_dicts(bp4d_v2, "disfa")
    with pytest.raises(ValueError, match="`dataset` must be one of"):
        cj.from_state_dicts(bp4d_v2, "ck+")
    # Another network's checkpoint (AUNets' keys) in the JAA-Net files.
    other = {m: {"model.features.0.weight": np.zeros((64, 3, 3, 3), "float32")} for m in cj.MODULES}
    with pytest.raises(ConversionError, match="Not a JAA-Net snapshot"):
        cj.from_state_dicts(other, "bp4d")
    extra = {**bp4d_v2, "au_net": {**bp4d_v2["au_net"], "au_output.2.weight": np.zeros(1)}}
    with pytest.raises(ConversionError, match=r"au_net.*au_output.2.weight"):
        cj.from_state_dicts(extra, "bp4d")
    argv = ["convert", "jaanet", "--snapshot_dir", str(folder), "--epoch", "9", "--out", "x.keras"]
    assert tfau_main(argv) == 2
    assert "Epoch 9" in capsys.readouterr().err


def test_cli_without_torch_names_the_install_command(tmp_path, monkeypatch, capsys):
    (tmp_path / "snap").mkdir()
    for module in cj.MODULES:
        (tmp_path / "snap" / f"{module}_1.pth").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torch", None)
    argv = ["convert", "jaanet", "--snapshot_dir", str(tmp_path / "snap"), "--out", "x.keras"]
    assert tfau_main(argv) == 2
    assert re.search(r'pip install "tfau\[convert\]"', capsys.readouterr().err)


def test_a_converted_model_exports_and_predicts_on_a_real_face(tmp_path, bp4d_v2):
    # scikit-image's astronaut.png: a public-domain NASA portrait (Eileen Collins), smiling.
    import csv
    from importlib.resources import files

    photo = files("skimage") / "data" / "astronaut.png"
    folder = write_snapshot(tmp_path / "snap", bp4d_v2, epoch=1)
    model_path = tmp_path / "jaanet.keras"
    cj.convert(folder, model_path, dataset="bp4d")
    exported = tmp_path / "exported"
    assert tfau_main(["export", "--model_path", str(model_path), "--out", str(exported)]) == 0
    rows = {}
    for name, model in (("keras", model_path), ("saved_model", exported)):
        out = tmp_path / f"{name}.csv"
        argv = ["predict", "--model", str(model), "--input", str(photo), "--out", str(out)]
        assert tfau_main(argv) == 0
        with open(out, newline="") as stream:
            rows[name] = list(csv.DictReader(stream))
    assert len(rows["saved_model"]) == 1 and rows["saved_model"][0]["success"] == "1"
    assert {f"x_{i}" for i in range(49)} <= set(rows["saved_model"][0])
    columns = [f"AU{au:02d}_p" for au in BP4D_AUS]
    probabilities = {
        name: np.array([float(row[0][c]) for c in columns]) for name, row in rows.items()
    }
    assert ((probabilities["saved_model"] >= 0) & (probabilities["saved_model"] <= 1)).all()
    np.testing.assert_allclose(probabilities["saved_model"], probabilities["keras"], atol=1e-4)
