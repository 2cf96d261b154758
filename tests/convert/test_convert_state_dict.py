"""tfau.convert.state_dict: layouts against torch itself, slots both ways, clear errors."""

import sys

import keras
import numpy as np
import pytest

from tfau.convert import state_dict as sd

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))


def test_conv_and_batch_norm_layouts_equal_torch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 7, 3)).astype("float32")
    weight = rng.normal(size=(5, 3, 3, 3)).astype("float32")
    bias = rng.normal(size=5).astype("float32")
    bn = {
        "weight": rng.uniform(0.5, 1.5, 5),
        "bias": rng.normal(size=5),
        "running_mean": rng.normal(size=5),
        "running_var": rng.uniform(0.5, 1.5, 5),
    }
    bn = {k: v.astype("float32") for k, v in bn.items()}
    conv = keras.layers.Conv2D(5, 3, padding="same")
    norm = keras.layers.BatchNormalization(epsilon=1e-5)
    model = keras.Sequential([keras.Input((9, 7, 3)), conv, norm])
    slots = [
        sd.Slot("m", "conv.weight", conv.kernel, to_keras=sd.conv_to_keras),
        sd.Slot("m", "conv.bias", conv.bias),
        sd.Slot("m", "bn.weight", norm.gamma),
        sd.Slot("m", "bn.bias", norm.beta),
        sd.Slot("m", "bn.running_mean", norm.moving_mean),
        sd.Slot("m", "bn.running_var", norm.moving_variance),
    ]
    tensors = {"conv.weight": weight, "conv.bias": bias, **{f"bn.{k}": v for k, v in bn.items()}}
    sd.load_slots(slots, [], {"m": tensors})
    with torch.no_grad():
        y = F.conv2d(_nchw(x), torch.from_numpy(weight), torch.from_numpy(bias), padding=1)
        y = F.batch_norm(
            y,
            torch.from_numpy(bn["running_mean"]),
            torch.from_numpy(bn["running_var"]),
            torch.from_numpy(bn["weight"]),
            torch.from_numpy(bn["bias"]),
            training=False,
            eps=1e-5,
        )
    ours = np.asarray(model(x, training=False))
    np.testing.assert_allclose(ours, y.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_flatten_order_of_concatenated_maps_equals_torch():
    # torch: Linear(cat(a.view(B, -1), b.view(B, -1))) on NCHW maps; Keras: Dense on
    # concat(Flatten(NHWC a), Flatten(NHWC b)).
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 2, 4)).astype("float32")  # NHWC, 4 channels
    b = rng.normal(size=(2, 2, 2, 5)).astype("float32")
    weight = rng.normal(size=(6, 3 * 2 * 4 + 2 * 2 * 5)).astype("float32")
    blocks = [(4, 3, 2), (5, 2, 2)]
    dense = keras.layers.Dense(6, use_bias=False)
    dense.build((None, weight.shape[1]))
    slot = sd.Slot(
        "m",
        "fc.weight",
        dense.kernel,
        to_keras=sd.dense_nchw_to_keras(blocks),
        to_torch=sd.dense_nchw_to_torch(blocks),
    )
    sd.load_slots([slot], [], {"m": {"fc.weight": weight}})
    features = np.concatenate([a.reshape(2, -1), b.reshape(2, -1)], axis=1)
    with torch.no_grad():
        flat = torch.cat([_nchw(a).flatten(1), _nchw(b).flatten(1)], 1)
        expected = F.linear(flat, torch.from_numpy(weight)).numpy()
    np.testing.assert_allclose(np.asarray(dense(features)), expected, rtol=1e-5, atol=1e-5)
    # The plain transpose (no reordering) is wrong: the test can fail.
    assert not np.allclose(features @ weight.T, expected, atol=1e-2)
    np.testing.assert_array_equal(sd.dump_slots([slot], [])["m"]["fc.weight"], weight)


def test_folded_bias_equals_conv_bias_then_batch_norm():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    weight = rng.normal(size=(3, 2, 3, 3)).astype("float32")
    bias = rng.normal(size=3).astype("float32")
    mean, var = rng.normal(size=3).astype("float32"), rng.uniform(0.5, 2, 3).astype("float32")
    conv = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)
    norm = keras.layers.BatchNormalization(epsilon=1e-5)
    model = keras.Sequential([keras.Input((6, 6, 2)), conv, norm])
    slots = [
        sd.Slot("m", "conv.weight", conv.kernel, to_keras=sd.conv_to_keras),
        sd.Slot("m", "bn.running_mean", norm.moving_mean),
        sd.Slot("m", "bn.running_var", norm.moving_variance),
    ]
    folds = [sd.Fold("m", "conv.bias", ((norm.moving_mean, slice(None), 1),))]
    tensors = {
        "conv.weight": weight,
        "conv.bias": bias,
        "bn.running_mean": mean,
        "bn.running_var": var,
    }
    sd.load_slots(slots, folds, {"m": tensors})
    with torch.no_grad():
        y = F.conv2d(_nchw(x), torch.from_numpy(weight), torch.from_numpy(bias), padding=1)
        y = F.batch_norm(y, torch.from_numpy(mean), torch.from_numpy(var), eps=1e-5)
    ours = np.asarray(model(x, training=False))
    np.testing.assert_allclose(ours, y.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    dumped = sd.dump_slots(slots, folds)["m"]
    np.testing.assert_array_equal(dumped["conv.bias"], np.zeros(3, "float32"))
    np.testing.assert_allclose(dumped["bn.running_mean"], mean - bias)


def _dense_slot():
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    return dense, [
        sd.Slot("m", "fc.weight", dense.kernel, to_keras=sd.dense_to_keras),
        sd.Slot("m", "fc.bias", dense.bias),
    ]


def test_load_slots_names_missing_misshaped_and_left_over_keys():
    _, slots = _dense_slot()
    good = {"fc.weight": np.ones((2, 3), "float32"), "fc.bias": np.ones(2, "float32")}
    with pytest.raises(sd.ConversionError, match=r"has no tensor 'fc\.bias'"):
        sd.load_slots(slots, [], {"m": {"fc.weight": good["fc.weight"]}})
    with pytest.raises(sd.ConversionError, match=r"fc.weight has shape \(2, 4\)"):
        sd.load_slots(slots, [], {"m": {**good, "fc.weight": np.ones((2, 4), "float32")}})
    extra = {**good, "fc2.weight": np.ones(1, "float32")}
    with pytest.raises(sd.ConversionError, match="1 tensors this network does not use"):
        sd.load_slots(slots, [], {"m": extra})
    sd.load_slots(slots, [], {"m": extra}, ignored={"m": ("fc2.*",)})


def test_a_failed_load_changes_no_variable():
    dense, slots = _dense_slot()
    before = [w.numpy().copy() for w in dense.weights]
    bad = {"fc.weight": np.full((2, 3), 7.0, "float32"), "fc.bias": np.ones(5, "float32")}
    with pytest.raises(sd.ConversionError):
        sd.load_slots(slots, [], {"m": bad})
    for weight, value in zip(dense.weights, before, strict=True):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_state_dict_files_both_formats_and_wrapped(tmp_path):
    tensors = {"a.weight": np.arange(6, dtype="float32").reshape(2, 3)}
    sd.save_state_dict(tensors, tmp_path / "new.pth")
    torch.save(
        {"a.weight": torch.ones(2)}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False
    )
    torch.save({"state_dict": {"b": torch.zeros(1)}, "epoch": 3}, tmp_path / "wrapped.pth")
    np.testing.assert_array_equal(
        sd.load_state_dict(tmp_path / "new.pth")["a.weight"], tensors["a.weight"]
    )
    np.testing.assert_array_equal(sd.load_state_dict(tmp_path / "legacy.pth")["a.weight"], [1, 1])
    assert list(sd.load_state_dict(tmp_path / "wrapped.pth")) == ["b"]


def test_state_dict_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such checkpoint file"):
        sd.load_state_dict(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        sd.load_state_dict(tmp_path / "junk.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="does not hold a state_dict"):
        sd.load_state_dict(tmp_path / "list.pth")


def test_without_torch_the_error_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r'pip install "tfau\[convert\]"'):
        sd.load_state_dict(tmp_path / "x.pth")
