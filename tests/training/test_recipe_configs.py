"""Every paper's staged training runs from its registered config: `tfau train --config <tiny
twin>` on synth_au/tiny, one step per epoch, and the weights handed over between stages."""

import json
import os

import keras
import numpy as np
import pytest
from training_test_utils import checkpoint_layers

from tfau.cli.main import main
from tfau.model_files import read_model_info
from tfau.synth import BP4D_AUS
from tfau.training.building import build_model
from tfau.training.config import TrainConfig


def _train(name, synth_data_dir, run_dir, *overrides):
    args = ["train", "--config", name, "--run_dir", str(run_dir), "--data_dir", synth_data_dir]
    assert main([*args, "--quiet", "steps_per_epoch=1", *overrides]) == 0


def _stage_config(run_dir, folder):
    return TrainConfig.load(os.path.join(run_dir, folder, "config.json"))


def _fresh_and_trained(run_dir, folder, synth_data_dir):
    """A stage's network as built before training, and its layers after training."""
    model = build_model(_stage_config(run_dir, folder), data_dir=synth_data_dir)
    fresh = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    return fresh, checkpoint_layers(model, os.path.join(run_dir, folder))


def test_eacnet_config_trains_fvgg_then_enet_then_eacnet(synth_data_dir, tmp_path):
    run_dir = tmp_path / "eacnet"
    # E-Net and EAC-Net keep groups 1-4 frozen; FVGG keeps its own 3 and trains group 4.
    _train("eacnet_synth_staged", synth_data_dir, run_dir, "model_kwargs.frozen_groups=4")
    assert sorted(os.listdir(run_dir)) == [
        "1_fvgg",
        "2_enet",
        "3_eacnet",
        "config.json",
        "model.json",
        "model.keras",
    ]
    stages = [_stage_config(run_dir, f) for f in ("1_fvgg", "2_enet", "3_eacnet")]
    assert [c.model for c in stages] == ["FVGG", "ENet", "EACNet"]
    assert [c.model_kwargs["frozen_groups"] for c in stages] == [3, 4, 4]
    assert stages[0].pipeline == "FVGG" and stages[1].pipeline is None
    assert "region_units" not in stages[1].model_kwargs  # an EAC-Net-only argument
    fvgg_fresh, fvgg = _fresh_and_trained(run_dir, "1_fvgg", synth_data_dir)
    _, enet = _fresh_and_trained(run_dir, "2_enet", synth_data_dir)
    eacnet = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    for index in range(1, 5):
        trained = fvgg[f"fvgg_block4_conv{index}"][0]
        assert not np.array_equal(trained, fvgg_fresh[f"fvgg_block4_conv{index}"][0])
        np.testing.assert_array_equal(enet[f"enet_block4_conv{index}"][0], trained)
        np.testing.assert_array_equal(
            eacnet.get_layer(f"eacnet_block4_conv{index}").get_weights()[0], trained
        )
    info = read_model_info(os.path.join(run_dir, "model.keras"))
    assert info.model_name == "EACNet" and len(info.aus) == 12


def test_hydranet_config_grows_and_trains_one_head_per_stage(synth_data_dir, tmp_path):
    from tfau.models.aunets import hydranet_aus

    run_dir = tmp_path / "hydranet"
    _train("aunets_synth_hydranet", synth_data_dir, run_dir)
    folders = ["1_au1", "2_au2", "3_au4"]
    assert sorted(os.listdir(run_dir)) == [*folders, "config.json", "model.json", "model.keras"]
    stages = [_stage_config(run_dir, folder) for folder in folders]
    assert [c.aus for c in stages] == [[1], [1, 2], [1, 2, 4]]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert hydranet_aus(model) == ["1", "2", "4"]
    assert read_model_info(os.path.join(run_dir, "model.keras")).aus == (1, 2, 4)
    # The first head, trained in stage 1 and frozen since; the encoder, frozen throughout.
    fresh, first = _fresh_and_trained(run_dir, "1_au1", synth_data_dir)
    assert not np.array_equal(first["hydranet_au1_fc6"][0], fresh["hydranet_au1_fc6"][0])
    for name in ("hydranet_au1_fc6", "hydranet_au1_logits", "hydranet_block5_conv3"):
        for a, b in zip(model.get_layer(name).get_weights(), first[name], strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        model.get_layer("hydranet_block5_conv3").get_weights()[0],
        fresh["hydranet_block5_conv3"][0],
    )
    # `tfau evaluate` scores the final model on the AUs of its heads.
    assert main(["evaluate", "--run_dir", str(run_dir), "--data_dir", synth_data_dir]) == 0
    with open(os.path.join(run_dir, "eval_part3.json")) as f:
        assert json.load(f)["aus"] == ["AU1", "AU2", "AU4"]


def test_domain_adaptation_config_starts_from_the_pretrained_classifier(synth_data_dir, tmp_path):
    import tfau.data
    import tfau.models
    from tfau.training.recipes.aunets import pretrain_vgg_classifier
    from tfau.training.recipes.vgg import vgg_stream_prefixes

    run_dir = tmp_path / "domain"
    # A learning rate that leaves the AU stage's weights where the hand-over put them.
    _train("aunets_synth_domain", synth_data_dir, run_dir, "optimizer.learning_rate=1e-12")
    assert sorted(os.listdir(run_dir)) == ["1_aus", "config.json", "model.json", "model.keras"]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    # The same pretraining again: the view classifier on the run's training faces.
    examples = tfau.data.load_split("synth_au/tiny", "part1+part2", synth_data_dir)
    views = tfau.data.get_pipeline("AUNetsViewClassifier", input_size=32)(
        examples, training=True, batch_size=2, seed=0
    )
    shape = {"input_size": 32, "width": 1 / 16, "fc_units": 32}
    pretrained, history = pretrain_vgg_classifier(
        views, 2, epochs=2, learning_rate=1e-3, seed=0, **shape
    )
    assert len(history["loss"]) == 2
    keras.utils.set_random_seed(0)
    untrained = tfau.models.AUNetsViewClassifier(num_views=2, **shape)
    (prefix,) = vgg_stream_prefixes(model)
    for name in ("block5_conv3", "fc7"):
        weights = pretrained.get_layer(f"aunets_view_{name}").get_weights()[0]
        assert not np.allclose(weights, untrained.get_layer(f"aunets_view_{name}").get_weights()[0])
        np.testing.assert_allclose(
            model.get_layer(f"{prefix}_{name}").get_weights()[0], weights, atol=1e-6
        )


def test_jaanet_transfer_config_starts_from_a_model_for_other_aus(synth_data_dir, tmp_path):
    import tfau.models
    from tfau.cli._configs import resolve_config
    from tfau.training.recipes.jaanet import JAANET_PER_AU_LAYERS

    config, _, _ = resolve_config("jaanet_synth_transfer")
    first = config.stages[0].init
    assert first == {"name": "jaanet_au_branches", "source": "runs/jaanet_synth/model.keras"}
    keras.utils.set_random_seed(7)
    source = tfau.models.JAANet(input_size=48, c=2, d=16, aus=(1, 2, 4, 6, 12))
    source_path = str(tmp_path / "bp4d.keras")
    source.save(source_path)
    # The first stage only, training the alignment module: the AU layers keep what the
    # hand-over gave them.
    stage = {**config.to_dict()["stages"][0], "trainable": ["align"]}
    stage["init"] = {**first, "source": source_path}
    run_dir = tmp_path / "transfer"
    _train("jaanet_synth_transfer", synth_data_dir, run_dir, f"stages={json.dumps([stage])}")
    target = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    fresh, _ = _fresh_and_trained(run_dir, "1_all_modules", synth_data_dir)
    assert JAANET_PER_AU_LAYERS["local"] == "au_major"
    # The BP4D AUs of synth_au/tiny: AUs 1, 2, 4, 6, 12 from the source, the others new.
    pairs = zip(
        target.get_layer("jaanet_local").get_weights(),
        source.get_layer("jaanet_local").get_weights(),
        fresh["jaanet_local"],
        strict=True,
    )
    for value, origin, initial in pairs:
        per_au = value.shape[-1] // len(BP4D_AUS)
        for index, au in enumerate(BP4D_AUS):
            got = value[..., index * per_au : (index + 1) * per_au]
            if au in (1, 2, 4, 6, 12):
                column = (1, 2, 4, 6, 12).index(au)
                want = origin[..., column * per_au : (column + 1) * per_au]
            else:
                want = initial[..., index * per_au : (index + 1) * per_au]
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        target.get_layer("jaanet_region1_hmr").get_weights()[0],
        source.get_layer("jaanet_region1_hmr").get_weights()[0],
    )
    with pytest.raises(FileNotFoundError, match="does not exist: train that run first"):
        _train("jaanet_synth_transfer", synth_data_dir, tmp_path / "missing")
