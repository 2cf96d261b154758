"""DRML and its Table 2 baselines: structure, parameter counts, argument errors."""

import doctest

import keras
import numpy as np
import pytest
from learning_check import LEARNING_SEED, assert_learns, cosine_adam

import tfau
from tfau.models import drml


@pytest.mark.slow
def test_full_size_drml_has_about_56_million_parameters():
    model = drml.DRML()
    # conv1 11,648 + region layer 600,064 (64 patches x (3x3x32x32 + 32 + 4 x 32 BN))
    # + conv4-7 64,832 + fc8 47,779,840 + fc9 8,390,656 + fc10 24,588.
    assert model.count_params() == 56_871_628
    # "About 56 million parameters" (section 3.1); 56.9 M measured on the authors' model.
    assert 56e6 <= model.count_params() < 57e6
    fc = sum(model.get_layer(f"drml_{n}").count_params() for n in ("fc8", "fc9", "fc10"))
    assert fc == 56_195_084  # 56.2 M in the fully connected head (performance.md)
    assert model.get_layer("drml_conv1").output.shape == (None, 160, 160, 32)
    assert model.get_layer("drml_pool3").output.shape == (None, 80, 80, 32)
    assert model.get_layer("drml_conv7").output.shape == (None, 27, 27, 16)
    assert model.get_layer("drml_fc9").output.shape == (None, 2048)  # the feature (fc9)
    assert {key: tuple(value.shape) for key, value in model.output.items()} == {"au": (None, 12)}
    assert model.name == "drml" and list(model.input) == ["image"]


@pytest.mark.slow
def test_full_size_convnet_is_drml_without_region_layer():
    model = tfau.models.get("DRML_ConvNet")()
    assert model.name == "drml_convnet"
    assert model.count_params() == 56_871_628 - 600_064
    assert not any(isinstance(layer, tfau.layers.RegionLayer) for layer in model.layers)


def test_lcn_replaces_the_region_layer_with_a_locally_connected_layer():
    kwargs = tfau.models.tiny_kwargs("DRML_LCN")
    model = tfau.models.get("DRML_LCN")(**kwargs)
    layer = model.get_layer("drml_lc2")
    assert isinstance(layer, tfau.layers.LocallyConnected2D)
    # 64 x 64 x 8 conv1 map kept at its size; one 3x3x8x8 kernel + 8 biases per position.
    assert layer.output.shape == (None, 64, 64, 8)
    assert layer.count_params() == 64 * 64 * (3 * 3 * 8 * 8 + 8)
    region = tfau.models.get("DRML")(**kwargs)
    assert model.count_params() - layer.count_params() == region.count_params() - (
        region.get_layer("drml_region2").count_params()
    )


def test_region_layer_follows_the_paper_grid():
    model = drml.DRML(**tfau.models.tiny_kwargs("DRML"), grid_size=4)
    region = model.get_layer("drml_region2")
    assert isinstance(region, tfau.layers.RegionLayer) and region.grid_size == 4
    lrn = model.get_layer("drml_lrn3")
    assert (lrn.size, lrn.alpha, lrn.beta) == (5, 1e-4, 0.75)
    strides = [model.get_layer(f"drml_conv{i}").strides for i in (4, 5, 6, 7)]
    assert strides == [(1, 1), (1, 1), (2, 2), (1, 1)]


def test_tiny_forward_is_a_probability_per_au():
    model = drml.DRML(**tfau.models.tiny_kwargs("DRML"))
    outputs = model(
        {"image": np.random.default_rng(0).normal(size=(2, 74, 74, 3)).astype("float32")}
    )
    assert set(outputs) == {"au"}
    au = np.asarray(outputs["au"])
    assert au.shape == (2, 3) and au.dtype == np.float32
    assert np.all((au > 0) & (au < 1))


def test_argument_errors():
    tiny = tfau.models.tiny_kwargs("DRML")
    with pytest.raises(ValueError, match=r"`region` must be one of .* Received: region='lcn'"):
        drml.DRML(**tiny, region="lcn")
    with pytest.raises(ValueError, match=r"Received: input_shape=\(40, 40, 3\)"):
        drml.DRML(**{**tiny, "input_shape": (40, 40, 3)})
    with pytest.raises(ValueError, match=r"Received: fc_units=\(32,\)"):
        drml.DRML(**{**tiny, "fc_units": (32,)})
    with pytest.raises(
        ValueError, match=r"`num_aus` must be a positive integer. Received: num_aus=0"
    ):
        drml.DRML(**{**tiny, "num_aus": 0})
    with pytest.raises(ValueError, match=r"grid_size"):
        drml.DRML(**tiny, grid_size=7)  # 64 x 64 conv1 map: 7 does not divide it


@pytest.mark.slow
def test_tiny_drml_learns_synth_au(synth_au_faces):
    train_images, _, train_labels = synth_au_faces["train"]
    test_images, _, test_labels = synth_au_faces["test"]
    keras.utils.set_random_seed(LEARNING_SEED)
    kwargs = {**tfau.models.tiny_kwargs("DRML"), "num_aus": train_labels.shape[1], "dropout": 0.0}
    model = drml.DRML(**kwargs)
    model.compile(
        optimizer=cosine_adam(1e-3, epochs=5, steps_per_epoch=len(train_labels) // 16),
        loss={"au": tfau.losses.MultiLabelSigmoidCrossEntropy()},
    )
    model.fit(
        {"image": (train_images - 128.0) / 64.0},
        {"au": train_labels},
        batch_size=16,
        epochs=5,
        verbose=0,
    )
    predictions = model.predict({"image": (test_images - 128.0) / 64.0}, verbose=0)["au"]
    assert_learns("DRML-tiny", test_labels, predictions)


def test_docstring_examples():
    result = doctest.testmod(drml)
    assert result.attempted > 0 and result.failed == 0
