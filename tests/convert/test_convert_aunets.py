"""tfau.convert.aunets: the authors' AUNets checkpoints against checked-in facts and torch.

The key-and-shape manifest (aunets_checkpoint_keys.json) was listed from the authors' own
modules (BCV-Uniandes/AUNets ``Classifier(OF_option=...).state_dict()``); the reference
forward below follows their modules' ``forward`` with plain ``torch.nn.functional`` ops.
Tiny networks: 64 px (a 2 x 2 pool5 map, so the NCHW flatten order matters), width 1/16,
fc 32.
"""

import collections
import io
import json
import pickle
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tfau.aus import BP4D_AUS  # noqa: E402
from tfau.cli.main import main as cli_main  # noqa: E402
from tfau.convert import aunets  # noqa: E402
from tfau.convert.state_dict import ConversionError, load_state_dict  # noqa: E402
from tfau.data import get_config  # noqa: E402
from tfau.data.transforms import normalize_image  # noqa: E402
from tfau.model_files import read_model_info  # noqa: E402
from tfau.models.aunets import AUNet  # noqa: E402

MANIFEST = json.loads((Path(__file__).parent / "aunets_checkpoint_keys.json").read_text())
OPTIONS = ("None", "Alone", "Channels", "Horizontal", "Conv", "FC6", "FC7")
SIDE = 64
# Full-size dimension -> tiny one (channels / 16, fc 32, fc6 inputs of a 2 x 2 map).
TINY = {1: 1, 3: 3, 6: 6, 64: 4, 128: 8, 256: 16, 512: 32, 4096: 32, 8192: 64}
TINY |= {512 * 7 * 7: 32 * 2 * 2, 512 * 7 * 14: 32 * 2 * 4}
# The authors' VGG-16 "D" features: conv at these nn.Sequential indices, a max pool after
# the last conv of each group.
CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
POOLED = (2, 7, 14, 21, 28)
KERAS_NAMES = {
    "None": "aunet",
    "Alone": "aunet_flow",
    "Channels": "aunet_channels",
    "Horizontal": "aunet_horizontal",
    "Conv": "aunet_pi_conv",
    "FC6": "aunet_pi_fc6",
    "FC7": "aunet_pi_fc7",
}


def tiny_state_dict(option, seed=0):
    """Random tensors with the manifest's keys and tiny shapes (He-scaled, biases nonzero)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in MANIFEST[option].items():
        shape = [TINY[d] for d in shape]
        if key.endswith(".bias"):
            out[key] = rng.normal(0.0, 0.1, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            out[key] = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
    return out


def inputs(seed=1, batch=2):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.uniform(-0.5, 0.5, (batch, SIDE, SIDE, 3)).astype(np.float32),
        "flow": rng.uniform(-0.5, 0.5, (batch, SIDE, SIDE, 3)).astype(np.float32),
    }


def _encoder(sd, key, x):
    for index in CONVS:
        x = F.relu(
            F.conv2d(
                x, sd[f"model.{key}.{index}.weight"], sd[f"model.{key}.{index}.bias"], padding=1
            )
        )
        if index in POOLED:
            x = F.max_pool2d(x, 2, 2)
    return x


def _linear(sd, key, x, relu=True):
    y = F.linear(x, sd[f"model.{key}.weight"], sd[f"model.{key}.bias"])
    return F.relu(y) if relu else y


def authors_logits(state_dict, option, batch):
    """The authors' forward of ``option`` (eval mode: dropout off), plain torch ops, NCHW."""
    sd = {k: torch.from_numpy(v) for k, v in state_dict.items()}
    image = torch.from_numpy(batch["image"]).permute(0, 3, 1, 2)
    flow = torch.from_numpy(batch["flow"]).permute(0, 3, 1, 2)
    with torch.no_grad():
        if option in ("None", "Alone", "Channels", "Horizontal"):
            x = {
                "None": image,
                "Alone": flow,
                "Channels": torch.cat([image, flow], dim=1),
                "Horizontal": torch.cat([image, flow], dim=3),
            }[option]
            x = _encoder(sd, "features", x).reshape(len(x), -1)
            x = _linear(sd, "classifier.3", _linear(sd, "classifier.0", x))
            return _linear(sd, "classifier.6", x, relu=False).numpy()
        rgb, of = _encoder(sd, "features_rgb", image), _encoder(sd, "features_of", flow)
        if option == "Conv":
            x = torch.cat([rgb, of], dim=1).reshape(len(rgb), -1)
            x = _linear(sd, "classifier.3", _linear(sd, "classifier.0", x))
            return _linear(sd, "classifier.6", x, relu=False).numpy()
        rgb, of = rgb.reshape(len(rgb), -1), of.reshape(len(of), -1)
        if option == "FC6":
            x = torch.cat(
                [_linear(sd, "classifier_rgb.0", rgb), _linear(sd, "classifier_of.0", of)], 1
            )
            return _linear(sd, "classifier.3", _linear(sd, "classifier.0", x), relu=False).numpy()
        # FC7: their forward runs classifier_rgb on the flow stream too.
        streams = [
            _linear(sd, "classifier_rgb.3", _linear(sd, "classifier_rgb.0", s)) for s in (rgb, of)
        ]
        return _linear(sd, "classifier.0", torch.cat(streams, 1), relu=False).numpy()


def keras_logits(model, batch):
    logits = model.get_layer(f"{model.name}_au_logits").output
    sub = keras.Model(model.inputs, logits)
    return np.asarray(sub({t.name: batch[t.name] for t in model.inputs}, training=False))


def relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def save(state_dict, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: torch.from_numpy(v) for k, v in state_dict.items()}, path, **kwargs)
    return path


@pytest.fixture(scope="module")
def converted():
    """Option -> (tiny state dict, tfau model converted from it in memory)."""
    out = {}
    for option in OPTIONS:
        state_dict = tiny_state_dict(option, seed=OPTIONS.index(option))
        out[option] = state_dict, aunets.from_state_dict(state_dict, option)
    return out


# ------------------------------------------------------------------------------------------
# (a) The authors' key-and-shape manifest


def test_manifest_holds_the_authors_key_counts():
    counts = {option: len(keys) for option, keys in MANIFEST.items() if option != "_about"}
    assert counts == {
        "None": 32,
        "Alone": 32,
        "Channels": 32,
        "Horizontal": 32,
        "Conv": 58,
        "FC6": 60,
        "FC7": 62,
    }
    assert MANIFEST["Channels"]["model.features.0.weight"] == [64, 6, 3, 3]
    assert MANIFEST["Horizontal"]["model.classifier.0.weight"] == [4096, 512 * 7 * 14]


@pytest.mark.parametrize("option", OPTIONS)
def test_every_manifest_key_is_read_and_written_back(converted, option):
    state_dict, model = converted[option]
    assert model.name == KERAS_NAMES[option]
    assert model.output["au"].shape[-1] == 1
    written = aunets.to_state_dict(model, option)
    assert {k: list(v.shape) for k, v in written.items()} == {
        k: list(v.shape) for k, v in state_dict.items()
    }


@pytest.mark.parametrize("option", OPTIONS)
def test_the_option_is_told_from_the_keys(option):
    detected = aunets.detect_of_options(tiny_state_dict(option))
    assert option in detected
    assert len(detected) == (2 if option in ("None", "Alone") else 1)


@pytest.mark.slow
def test_full_size_manifest_converts_to_the_224_px_network():
    state_dict = {k: np.zeros(s, np.float32) for k, s in MANIFEST["None"].items()}
    model = aunets.from_state_dict(state_dict, "None")
    assert model.inputs[0].shape[1:] == (224, 224, 3)
    assert model.get_layer("aunet_fc6").units == 4096
    assert model.get_layer("aunet_block5_conv3").filters == 512
    assert model.count_params() == sum(int(np.prod(s)) for s in MANIFEST["None"].values())


def test_a_missing_or_extra_key_is_refused(converted):
    state_dict = dict(converted["None"][0])
    extra = {**state_dict, "model.classifier.9.weight": np.zeros((1, 1), np.float32)}
    with pytest.raises(ConversionError, match=r"model\.classifier\.9\.weight"):
        aunets.from_state_dict(extra, "None")
    del state_dict["model.features.26.bias"]
    with pytest.raises(ConversionError, match=r"no tensor 'model\.features\.26\.bias'"):
        aunets.from_state_dict(state_dict, "None")


# ------------------------------------------------------------------------------------------
# (b) Outputs against torch


@pytest.mark.parametrize("option", OPTIONS)
def test_converted_files_compute_the_authors_forward(tmp_path, option):
    state_dict = tiny_state_dict(option, seed=10 + OPTIONS.index(option))
    path = save(state_dict, tmp_path / "AU12" / f"OF_{option}" / "emotionnet" / "02_1800.pth")
    model = aunets.convert(path, tmp_path / "aunet.keras", au=12, of_option=option)
    batch = inputs(batch=4)
    reference = authors_logits(state_dict, option, batch)
    assert np.ptp(reference) > 0.02  # the input still moves the logit after 16 layers
    assert relative(keras_logits(model, batch), reference) < 1e-5
    probabilities = model({t.name: batch[t.name] for t in model.inputs}, training=False)["au"]
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-reference)), atol=1e-6)


def test_fc6_reads_pool5_in_pytorch_order(converted):
    """A Keras Flatten + Dense on a NHWC map equals torch's view + linear on the NCHW map."""
    state_dict, model = converted["Horizontal"]
    pool5 = np.random.default_rng(3).normal(size=(2, 2, 4, 32)).astype(np.float32)
    flat = model.get_layer("aunet_horizontal_flatten")(pool5)
    ours = np.asarray(model.get_layer("aunet_horizontal_fc6")(flat))
    theirs = F.relu(
        F.linear(
            torch.from_numpy(pool5).permute(0, 3, 1, 2).reshape(2, -1),
            torch.from_numpy(state_dict["model.classifier.0.weight"]),
            torch.from_numpy(state_dict["model.classifier.0.bias"]),
        )
    ).numpy()
    assert relative(ours, theirs) < 1e-6


def test_the_comparison_catches_a_wrong_flatten_order(converted):
    """fc6 loaded with a plain transpose (no NCHW -> NHWC reorder) is far from the authors'."""
    state_dict, model = converted["None"]
    batch = inputs()
    reference = authors_logits(state_dict, "None", batch)
    fc6 = model.get_layer("aunet_fc6")
    right = fc6.kernel.numpy()
    try:
        fc6.kernel.assign(state_dict["model.classifier.0.weight"].T)
        assert relative(keras_logits(model, batch), reference) > 0.05
    finally:
        fc6.kernel.assign(right)
    assert relative(keras_logits(model, batch), reference) < 1e-5


def test_hydranet_heads_compute_each_authors_model(tmp_path):
    encoder = tiny_state_dict("None", seed=20)
    paths, state_dicts = [], []
    for au in (1, 12, 24):
        head = tiny_state_dict("None", seed=au)
        state_dict = {k: encoder[k] if ".features." in k else head[k] for k in head}
        state_dicts.append(state_dict)
        paths.append(save(state_dict, tmp_path / f"AU{au:02d}" / "HYDRA" / "OF_None" / "01.pth"))
    model = aunets.convert_hydranet(paths, tmp_path / "hydra.keras", aus=[1, 12, 24])
    batch = inputs()
    probabilities = np.asarray(model({"image": batch["image"]}, training=False)["au"])
    for column, state_dict in enumerate(state_dicts):
        reference = 1 / (1 + np.exp(-authors_logits(state_dict, "None", batch)[:, 0]))
        np.testing.assert_allclose(probabilities[:, column], reference, atol=1e-6)
    info = read_model_info(tmp_path / "hydra.keras")
    assert (info.model_name, info.aus, info.source["aus"]) == ("HydraNet", (1, 12, 24), [1, 12, 24])
    for au, written in aunets.hydranet_to_state_dicts(model).items():
        original = state_dicts[(1, 12, 24).index(au)]
        assert all(np.array_equal(written[k], original[k]) for k in original)


# ------------------------------------------------------------------------------------------
# (c) Round trips


@pytest.mark.parametrize("option", OPTIONS)
def test_round_trip_tfau_authors_tfau_is_exact(option):
    model = AUNet(SIDE, fusion=aunets.FUSIONS[option], width=1 / 16, fc_units=32)
    if option == "FC7":
        # The authors' format has one classifier_rgb for both streams.
        for fc in ("fc6", "fc7"):
            rgb = model.get_layer(f"aunet_pi_fc7_rgb_{fc}").get_weights()
            model.get_layer(f"aunet_pi_fc7_flow_{fc}").set_weights(rgb)
    back = aunets.from_state_dict(aunets.to_state_dict(model, option), option)
    weights, returned = model.get_weights(), back.get_weights()
    assert len(weights) == len(returned)
    assert all(np.array_equal(a, b) for a, b in zip(weights, returned, strict=True))


def test_round_trip_through_pth_files_is_exact(tmp_path, converted):
    state_dict, model = converted["FC6"]
    path = save(aunets.to_state_dict(model, "FC6"), tmp_path / "fc6.pth")
    again = load_state_dict(path)
    assert all(np.array_equal(again[k], state_dict[k]) for k in state_dict)


def test_fc7_flow_stream_that_the_authors_cannot_express_is_refused():
    model = AUNet(SIDE, fusion="pi_fc7", width=1 / 16, fc_units=32)
    kernel = model.get_layer("aunet_pi_fc7_flow_fc6").kernel
    kernel.assign(kernel.numpy() + 1.0)
    with pytest.raises(ValueError, match="classifier_rgb to both streams"):
        aunets.to_state_dict(model, "FC7")


def test_fc7_reads_classifier_rgb_into_both_streams_and_ignores_classifier_of(converted):
    state_dict, model = converted["FC7"]
    rgb = state_dict["model.classifier_rgb.0.weight"]
    flow_kernel = model.get_layer("aunet_pi_fc7_flow_fc6").kernel.numpy()
    rgb_kernel = model.get_layer("aunet_pi_fc7_rgb_fc6").kernel.numpy()
    np.testing.assert_array_equal(flow_kernel, rgb_kernel)
    assert not np.allclose(state_dict["model.classifier_of.0.weight"], rgb)


# ------------------------------------------------------------------------------------------
# Files: legacy formats, model.json, .keras


def _save_like_pytorch_031(state_dict, path):
    """A ``torch.save`` file as PyTorch 0.3.1 / Python 2.7 wrote it: the legacy format,
    tensors rebuilt by ``torch._utils._rebuild_tensor``, keys as Python 2 byte strings."""

    class Py2Pickler(pickle._Pickler):
        dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

        def save_str(self, obj):  # Python 2 str: SHORT_BINSTRING / BINSTRING
            data = obj.encode("latin1")
            if len(data) < 256:
                self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
            else:
                self.write(pickle.BINSTRING + len(data).to_bytes(4, "little") + data)
            self.memoize(obj)

        dispatch[str] = save_str

        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel, None)
            return None

    class _Storage:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class _Tensor:
        def __init__(self, storage, shape):
            self.storage, self.shape = storage, tuple(shape)

        def __reduce__(self):
            strides = tuple(int(np.prod(self.shape[i + 1 :])) for i in range(len(self.shape)))
            return (torch._utils._rebuild_tensor, (self.storage, 0, self.shape, strides))

    storages, ordered = [], collections.OrderedDict()
    for index, (key, value) in enumerate(state_dict.items()):
        storages.append((str(index), np.ascontiguousarray(value, "<f4")))
        ordered[key] = _Tensor(_Storage(str(index), value.size), value.shape)
    buffer = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        Py2Pickler(buffer, protocol=2).dump(header)
    Py2Pickler(buffer, protocol=2).dump(ordered)
    Py2Pickler(buffer, protocol=2).dump([key for key, _ in storages])
    for _, data in storages:
        buffer.write(data.size.to_bytes(8, "little") + data.tobytes())
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("writer", ["legacy_torch_2", "pytorch_0.3.1"])
def test_legacy_checkpoint_files_convert_the_same(tmp_path, converted, writer):
    state_dict, model = converted["Channels"]
    path = tmp_path / "02_1800.pth"
    if writer == "legacy_torch_2":
        save(state_dict, path, _use_new_zipfile_serialization=False)
    else:
        _save_like_pytorch_031(state_dict, path)
    assert not __import__("zipfile").is_zipfile(path)
    read = load_state_dict(path)
    assert list(read) == list(state_dict)
    assert all(np.array_equal(read[k], state_dict[k]) for k in state_dict)
    again = aunets.convert(path, tmp_path / "channels.keras", au=6, of_option="Channels")
    assert all(
        np.array_equal(a, b) for a, b in zip(again.get_weights(), model.get_weights(), strict=True)
    )


def test_written_model_loads_safely_and_describes_the_authors_preprocessing(tmp_path):
    state_dict = tiny_state_dict("Horizontal", seed=5)
    path = save(state_dict, tmp_path / "fold_0" / "AU04" / "OF_Horizontal" / "e" / "03_900.pth")
    model = aunets.convert(path, tmp_path / "out" / "au4.keras", au=4, of_option="Horizontal")
    loaded = keras.saving.load_model(tmp_path / "out" / "au4.keras", safe_mode=True)
    batch = inputs()
    np.testing.assert_array_equal(loaded(batch)["au"], model(batch)["au"])
    info = json.loads((tmp_path / "out" / "au4.json").read_text())  # the model.json sidecar
    assert info["model_name"] == "AUNetHorizontal"
    assert info["aus"] == [4]
    assert info["face_size"] == 256
    assert info["mean"] is None
    assert info["pipeline_kwargs"] == {"input_size": SIDE, "normalization": "unit_imagenet_mean"}
    assert info["source"] == {
        "converted_from": "BCV-Uniandes/AUNets",
        "checkpoint": str(path.resolve()),
        "au": 4,
        "of_option": "Horizontal",
    }
    config = get_config(info["model_name"], **info["pipeline_kwargs"])
    assert (config.input_size, config.crop, config.inputs) == (SIDE, False, ("image", "flow"))


def test_unit_imagenet_mean_is_torchvisions_to_tensor_and_normalize():
    """The authors' ToTensor() then Normalize(mean=(0.485, 0.456, 0.406), std=(1, 1, 1))."""
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    theirs = pixels.astype(np.float32) / 255 - np.array([0.485, 0.456, 0.406], np.float32)
    ours = normalize_image(pixels, "unit_imagenet_mean").numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-7)


# ------------------------------------------------------------------------------------------
# (d) Clear errors


@pytest.mark.parametrize("au", [3, 0, -1, True, "12", 12.0])
def test_an_au_the_authors_did_not_train_is_refused(tmp_path, au):
    path = save(tiny_state_dict("None"), tmp_path / "x.pth")
    with pytest.raises(ValueError, match=", ".join(map(str, BP4D_AUS)) + r"\. Received"):
        aunets.convert(path, tmp_path / "x.keras", au=au)


@pytest.mark.parametrize(
    "option, given, says",
    [
        ("Horizontal", "None", "OF_Horizontal AUNet"),
        ("FC7", "FC6", "OF_FC7"),
        ("Conv", "FC7", "OF_Conv"),
        ("Channels", "Horizontal", "OF_Channels"),
        ("None", "Conv", "OF_None or OF_Alone AUNet.*--of_option None or --of_option Alone"),
    ],
)
def test_a_checkpoint_of_another_option_says_which_it_looks_like(tmp_path, option, given, says):
    path = save(tiny_state_dict(option), tmp_path / "x.pth")
    with pytest.raises(ConversionError, match=f"x.pth: The checkpoint looks like an {says}"):
        aunets.convert(path, tmp_path / "x.keras", au=1, of_option=given)


def test_unknown_option_and_folders_that_disagree_are_refused(tmp_path):
    path = save(tiny_state_dict("None"), tmp_path / "AU12" / "OF_Alone" / "01_1.pth")
    with pytest.raises(ValueError, match="of_option` must be one of"):
        aunets.convert(path, tmp_path / "x.keras", au=12, of_option="Vertical")
    with pytest.raises(ValueError, match=r"folder 'OF_Alone'.*pass --of_option Alone"):
        aunets.convert(path, tmp_path / "x.keras", au=12, of_option="None")
    with pytest.raises(ValueError, match=r"folder 'AU12'.*pass --au 12"):
        aunets.convert(path, tmp_path / "x.keras", au=1, of_option="Alone")
    with pytest.raises(ValueError, match=r"must end in '\.keras'"):
        aunets.convert(path, tmp_path / "x.h5", au=12, of_option="Alone")
    model = aunets.convert(path, tmp_path / "x.keras", au=12, of_option="Alone")
    assert model.name == "aunet_flow"
    vertical = save(tiny_state_dict("Horizontal"), tmp_path / "AU12" / "OF_Vertical" / "1.pth")
    with pytest.raises(ValueError, match="folder 'OF_Vertical': tfau converts their options"):
        aunets.convert(vertical, tmp_path / "x.keras", au=12, of_option="Horizontal")


def test_other_networks_and_files_are_refused(tmp_path):
    jaanet = {
        "multiscale_feat.0.conv.weight": np.zeros((32, 3, 3, 3), np.float32),
        "multiscale_feat.0.conv.bias": np.zeros(32, np.float32),
    }
    with pytest.raises(ConversionError, match=r"JAA-Net module file.*tfau convert jaanet"):
        aunets.convert(save(jaanet, tmp_path / "region_learning_8.pth"), tmp_path / "x.keras", 1)
    plain = {k.removeprefix("model."): v for k, v in tiny_state_dict("None").items()}
    with pytest.raises(ConversionError, match=r"lack AUNets' 'model\.' prefix"):
        aunets.convert(save(plain, tmp_path / "vgg16.pth"), tmp_path / "x.keras", 1)
    other = {"layer1.weight": np.ones((2, 2), np.float32)}
    with pytest.raises(ConversionError, match=r"Not an AUNets checkpoint.*layer1\.weight"):
        aunets.convert(save(other, tmp_path / "other.pth"), tmp_path / "x.keras", 1)
    emonet = tiny_state_dict("None")
    emonet["model.classifier.6.weight"] = np.zeros((22, 32), np.float32)
    emonet["model.classifier.6.bias"] = np.zeros(22, np.float32)
    with pytest.raises(ConversionError, match="22 outputs"):
        aunets.convert(save(emonet, tmp_path / "emonet.pth"), tmp_path / "x.keras", 1)
    (tmp_path / "noise.pth").write_bytes(np.random.default_rng(0).bytes(100))
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        aunets.convert(tmp_path / "noise.pth", tmp_path / "x.keras", 1)
    with pytest.raises(FileNotFoundError, match=r"No such checkpoint file: .*missing\.pth"):
        aunets.convert(tmp_path / "missing.pth", tmp_path / "x.keras", 1)
    with pytest.raises(ValueError, match="named 'aunet_flow'"):
        aunets.to_state_dict(aunets.from_state_dict(tiny_state_dict("None"), "None"), "Alone")


def test_hydranet_refuses_differing_encoders_and_bad_au_lists(tmp_path):
    first = tiny_state_dict("None", seed=1)
    second = {**tiny_state_dict("None", seed=2)}
    second.update({k: v for k, v in first.items() if ".features." in k})
    second["model.features.12.weight"] = first["model.features.12.weight"].copy()
    second["model.features.12.weight"][0, 0, 0, 0] += 1e-3
    a, b = save(first, tmp_path / "a.pth"), save(second, tmp_path / "b.pth")
    with pytest.raises(
        ConversionError, match=r"model\.features\.12\.weight differs between .*a\.pth and .*b\.pth"
    ):
        aunets.convert_hydranet([a, b], tmp_path / "h.keras", aus=[1, 2])
    with pytest.raises(ValueError, match="one checkpoint per AU: 2 checkpoints for 1 AUs"):
        aunets.convert_hydranet([a, b], tmp_path / "h.keras", aus=[1])
    with pytest.raises(ValueError, match=r"Repeated: \[2\]"):
        aunets.convert_hydranet([a, b], tmp_path / "h.keras", aus=[2, 2])
    with pytest.raises(FileNotFoundError, match=r"c\.pth"):
        aunets.convert_hydranet([a, tmp_path / "c.pth"], tmp_path / "h.keras", aus=[1, 2])
    horizontal = save(tiny_state_dict("Horizontal"), tmp_path / "h.pth")
    with pytest.raises(ConversionError, match=r"h\.pth: .*OF_Horizontal.*RGB checkpoints"):
        aunets.convert_hydranet([a, horizontal], tmp_path / "h.keras", aus=[1, 2])
    assert not (tmp_path / "h.keras").exists()


def test_the_command_line_converts_and_reports_errors(tmp_path, capsys):
    path = save(tiny_state_dict("None"), tmp_path / "02_1800.pth")
    out = tmp_path / "au2.keras"
    argv = ["convert", "aunet", "--checkpoint", str(path), "--au", "2", "--out", str(out)]
    assert cli_main(argv) == 0
    assert out.exists() and "aunet" in capsys.readouterr().out
    argv[argv.index("--au") + 1] = "5"
    assert cli_main(argv) == 2
    assert "`au` must be one of" in capsys.readouterr().err
