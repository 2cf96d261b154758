"""Staged training: JAA-Net's stages, BP4D -> DISFA transfer, EAC-Net, HydraNet, EmoNet."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfau.training import (
    JAANET_STAGES,
    Stage,
    TrainConfig,
    fit_linear_au_regression,
    run_stages,
)
from tfau.training.run import module_layers, set_trainable, stage_config

# Three AUs of synth_au/tiny's 12 BP4D columns keep the per-AU graphs small.
_JAANET_AUS = (1, 2, 4)


def _jaanet_config(**changes):
    return TrainConfig(
        model="JAANet",
        dataset="synth_au/tiny",
        model_kwargs={"input_size": 48, "c": 2, "d": 16, "aus": list(_JAANET_AUS), "num_aus": 3},
        pipeline_kwargs={"input_size": 48, "source_size": 56},
        batch_size=2,
        epochs=1,
        steps_per_epoch=2,
        checkpoint_every=100,
        losses={
            "au": [{"name": "weighted_softmax_ce"}, {"name": "weighted_dice"}],
            "landmarks": {"name": "alignment", "weight": 0.5},
            "attention": {
                "name": "attention_refinement",
                "weight": 1e-7,
                "target": "attention_initial",
            },
        },
        optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
        **changes,
    )


def _three_aus_pipeline():
    import tfau.data
    from tfau.training.run_data import select_aus

    return select_aus(tfau.data.get_pipeline("JAANet", input_size=48, source_size=56), [0, 1, 2])


def _checkpoint_values(model, folder):
    """Every model variable as stored in the latest checkpoint of a Trainer run folder."""
    reader = tf.train.load_checkpoint(os.path.join(folder, "checkpoints"))
    return [
        reader.get_tensor(f"model_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE")
        for i in range(len(model.variables))
    ]


def _layer_values(model, values):
    """Layer name -> its variables' values, from a list aligned with ``model.variables``."""
    index = {id(v): i for i, v in enumerate(model.variables)}
    return {
        layer.name: [values[index[id(v)]] for v in layer.variables]
        for layer in model.layers
        if layer.variables
    }


def test_stage_arguments_are_checked():
    with pytest.raises(
        ValueError, match=r"`epochs` must be a positive integer\. Received: epochs=0"
    ):
        Stage("a", epochs=0)
    with pytest.raises(ValueError, match="not a string"):
        Stage("a", epochs=1, trainable="align")
    with pytest.raises(ValueError, match="`learning_rate` must be None or a positive number"):
        Stage("a", epochs=1, learning_rate=-1.0)
    with pytest.raises(ValueError, match="`loss_weights` must map outputs to numbers >= 0"):
        Stage("a", epochs=1, loss_weights={"landmarks": -0.5})
    with pytest.raises(ValueError, match="`name` must be a non-empty string without '/'"):
        Stage("a/b", epochs=1)
    with pytest.raises(ValueError, match="`model_kwargs` must be a dict of builder arguments"):
        Stage("a", epochs=1, model_kwargs={"width": 0.5})
    with pytest.raises(ValueError, match="`init` must be None, a hand-over name or a dict"):
        Stage("a", epochs=1, init={"source": "x.keras"})
    with pytest.raises(ValueError, match=r"`aus` must hold distinct AU labels.*\[1, 'AU1'\]"):
        Stage("a", epochs=1, aus=[1, "AU1"])
    assert Stage("a", epochs=1, init="vgg_encoder").init == {"name": "vgg_encoder"}
    with pytest.raises(ValueError, match=r"`aus` must be None or a non-empty list of AUs"):
        TrainConfig(model="DRML", dataset="synth_au/tiny", aus=[])


def test_stages_name_registered_networks_and_hand_overs(tmp_path):
    config = TrainConfig(model="DRML", dataset="synth_au/tiny", run_dir=str(tmp_path))
    # Both fail before any model is built or data read.
    with pytest.raises(KeyError, match=r"No hand-over named 'copy'\. Hand-overs: eacnet_on_enet"):
        run_stages(config, [Stage("a", epochs=1, init="copy")])
    with pytest.raises(ValueError, match=r"Stage 'b': bad arguments of hand-over 'vgg_encoder'"):
        run_stages(config, [Stage("b", epochs=1, init={"name": "vgg_encoder", "heads": 1})])
    assert not os.listdir(tmp_path)


def test_config_stages_round_trip_through_json_and_name_the_bad_entry(tmp_path):
    stages = [dataclasses.asdict(s) for s in JAANET_STAGES]
    config = _jaanet_config(stages=stages)
    assert config.stages == list(JAANET_STAGES)
    assert _jaanet_config().stages is None
    # Stage objects, their dicts and a JSON file give the same config.
    assert _jaanet_config(stages=list(JAANET_STAGES)) == config
    path = str(tmp_path / "config.json")
    config.save(path)
    with open(path) as f:
        saved = json.load(f)
    assert saved["stages"][2]["trainable"] == ["global", "attention_refinement", "local", "au"]
    assert saved["stages"][0] == {
        "name": "all_modules",
        "epochs": 8,
        "trainable": None,
        "learning_rate": None,
        "loss_weights": {"landmarks": 0.5},
        "model": None,
        "model_kwargs": {},
        "pipeline": None,
        "init": None,
        "aus": None,
    }
    assert TrainConfig.load(path) == config
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.replace(stages=None).stages is None
    # Each stage runs as a single-stage config.
    assert stage_config(config, config.stages[1]).stages is None

    bad = [stages[0], {**stages[1], "learning_rate": 0}]
    with pytest.raises(
        ValueError,
        match=r"`stages\[1\]` \('face_alignment'\): `learning_rate` must be None or a positive "
        r"number\. Received: learning_rate=0",
    ):
        _jaanet_config(stages=bad)
    with pytest.raises(ValueError, match=r"`stages\[0\]` must have the keys name and epochs .*"):
        _jaanet_config(stages=[{"name": "a", "epoch": 1}])
    with pytest.raises(ValueError, match=r"unknown: \['epoch'\], missing: \['epochs'\]"):
        _jaanet_config(stages=[{"name": "a", "epoch": 1}])
    with pytest.raises(ValueError, match=r"`stages\[1\]` must be a Stage or a dict"):
        _jaanet_config(stages=[stages[0], "align"])
    with pytest.raises(ValueError, match=r"`stages` must be None or a non-empty list"):
        _jaanet_config(stages=[])
    with pytest.raises(ValueError, match=r"distinct names\. Received: names=\['a', 'a'\]"):
        _jaanet_config(stages=[{"name": "a", "epochs": 1}, {"name": "a", "epochs": 2}])
    with pytest.raises(
        ValueError,
        match=r"`stages\[0\]` \('a'\) sets the loss weight of output 'view', which has no loss",
    ):
        _jaanet_config(stages=[{"name": "a", "epochs": 1, "loss_weights": {"view": 1.0}}])


def test_jaanet_stages_are_the_papers():
    assert [s.epochs for s in JAANET_STAGES] == [8, 2, 2]
    assert [s.learning_rate for s in JAANET_STAGES] == [None, 1e-3, 1e-3]
    assert [s.loss_weights["landmarks"] for s in JAANET_STAGES] == [0.5, 1.0, 1.0]
    config = _jaanet_config()
    stage = stage_config(config, JAANET_STAGES[1])
    assert stage.epochs == 2 and stage.optimizer.learning_rate == 1e-3
    assert stage.losses["landmarks"].weight == 1.0
    # Other terms keep their weights; the first stage keeps the config's learning rate.
    assert stage.losses["attention"].weight == 1e-7
    assert stage_config(config, JAANET_STAGES[0]).optimizer.learning_rate == 0.01
    with pytest.raises(KeyError, match="sets the loss weight of output 'view', which has no loss"):
        stage_config(config, Stage("x", epochs=1, loss_weights={"view": 1.0}))


def test_jaanet_modules_cover_the_network():
    import tfau.models

    model = tfau.models.JAANet(input_size=48, c=2, d=16, aus=_JAANET_AUS)
    weighted = {layer.name for layer in model.layers if layer.weights}
    region = {
        layer.name for layer in module_layers(model, "region1") + module_layers(model, "region2")
    }
    align = {layer.name for layer in module_layers(model, "align")}
    au_modules = {
        layer.name
        for module in JAANET_STAGES[2].trainable
        for layer in module_layers(model, module)
        if layer.weights
    }
    # Stage 2 and stage 3 train disjoint parts; with the region layers they are everything.
    assert align and au_modules and not align & au_modules
    assert weighted == (region | align | au_modules) & weighted
    assert "jaanet_align_fc2" in align and "jaanet_au_fc2" in au_modules
    assert {"jaanet_local", "jaanet_attention_refinement"} <= au_modules
    with pytest.raises(ValueError, match="Module 'alignment' matches no trainable layer"):
        set_trainable(model, ("alignment",))
    trained = set_trainable(model, ("align",))
    assert set(trained) == {name for name in align if model.get_layer(name).weights}
    assert not model.get_layer("jaanet_global_1_1_conv").trainable
    set_trainable(model, None, {layer.name: True for layer in model.layers})
    assert all(layer.trainable for layer in model.layers)


def test_refinement_loss_takes_its_target_from_the_model(synth_data_dir, tmp_path):
    import tfau.losses
    from tfau.training import Trainer

    config = _jaanet_config()
    trainer = Trainer(
        config,
        pipeline=_three_aus_pipeline(),
        data_dir=synth_data_dir,
        run_dir=str(tmp_path),
        log=lambda message: None,
    )
    inputs, targets = next(iter(trainer.epoch_dataset(0)))
    outputs = trainer.model(inputs, training=False)
    total = float(trainer._loss(targets, outputs))
    au, probabilities = targets["au"].numpy(), outputs["au"].numpy()
    # Per-example terms are summed over the batch of 2 and divided by it; Dice is a batch
    # scalar (over_batch=True).
    expected = np.sum(tfau.losses.weighted_softmax_cross_entropy(au, probabilities)) / 2
    expected += float(tfau.losses.weighted_dice(au, probabilities))
    alignment = tfau.losses.alignment_loss(targets["landmarks"], outputs["landmarks"])
    expected += 0.5 * np.sum(alignment) / 2
    refinement = tfau.losses.attention_refinement_loss(
        outputs["attention_initial"], outputs["attention"]
    )
    assert float(np.sum(refinement)) > 1.0  # a term that would show in the total
    expected += 1e-7 * np.sum(refinement) / 2
    assert total == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(KeyError, match="y_true: 'missing' of the model outputs"):
        bad = config.replace(
            losses={"attention": {"name": "attention_refinement", "target": "missing"}}
        )
        Trainer(
            bad,
            model=trainer.model,
            pipeline=_three_aus_pipeline(),
            data_dir=synth_data_dir,
            run_dir=str(tmp_path / "bad"),
            log=lambda message: None,
        )._loss(targets, outputs)


def test_jaanet_three_stages_freeze_and_train_their_modules(synth_data_dir, tmp_path):
    import tfau.models

    config = _jaanet_config()
    model = tfau.models.JAANet(input_size=48, c=2, d=16, aus=_JAANET_AUS)
    before = [np.array(v.numpy()) for v in model.variables]
    stages = [dataclasses.replace(s, epochs=1) for s in JAANET_STAGES]
    model, results = run_stages(
        config,
        stages,
        model=model,
        pipeline=_three_aus_pipeline(),
        data_dir=synth_data_dir,
        run_dir=str(tmp_path),
        log=lambda message: None,
    )
    assert [r["stage"] for r in results] == ["all_modules", "face_alignment", "au_modules"]
    previous = _layer_values(model, before)
    for stage, result in zip(stages, results, strict=True):
        after = _layer_values(model, _checkpoint_values(model, result["run_dir"]))
        trained = set(result["trainable"])
        if stage.trainable is None:
            assert trained == {layer.name for layer in model.layers if layer.trainable_weights}
        else:
            assert trained == {
                layer.name
                for module in stage.trainable
                for layer in module_layers(model, module)
                if layer.trainable_weights
            }
        for name, values in after.items():
            same = all(np.array_equal(a, b) for a, b in zip(previous[name], values, strict=True))
            # Frozen layers: weights and BatchNorm statistics bit-identical.
            assert same != (name in trained), (stage.name, name)
        with open(os.path.join(result["run_dir"], "config.json")) as f:
            saved = json.load(f)
        assert saved["losses"]["landmarks"]["weight"] == stage.loss_weights["landmarks"]
        assert saved["optimizer"]["learning_rate"] == (stage.learning_rate or 0.01)
        # The stage's Trainer weighs the alignment loss by its lambda1.
        weights = {o: w for o, w, *_ in result["trainer"].loss_terms if o != "au"}
        assert weights == {"landmarks": stage.loss_weights["landmarks"], "attention": 1e-7}
        assert np.isfinite(result["history"][-1]["loss"])
        previous = after
    # The model ends with every layer trainable again and the last stage's weights.
    assert all(layer.trainable for layer in model.layers)
    final = _layer_values(model, [v.numpy() for v in model.variables])
    assert all(
        np.array_equal(a, b)
        for name in final
        for a, b in zip(final[name], previous[name], strict=True)
    )


def _per_au_slices(value, num_aus, index, layout):
    per_au = value.shape[-1] // num_aus
    if layout == "au_major":
        return value[..., index * per_au : (index + 1) * per_au]
    return value[..., np.arange(per_au) * num_aus + index]


def test_transfer_au_branches_copies_shared_aus_by_identity():
    import keras

    import tfau.models
    from tfau.training import transfer_au_branches
    from tfau.training.recipes.jaanet import JAANET_PER_AU_LAYERS

    kwargs = dict(input_size=48, c=2, d=16)
    keras.utils.set_random_seed(1)
    source = tfau.models.JAANet(aus=(1, 2, 4, 6, 12), **kwargs)
    keras.utils.set_random_seed(2)
    target = tfau.models.JAANet(aus=(2, 9, 1, 26), **kwargs)
    initial = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in target.layers}
    report = transfer_au_branches(source, target)
    assert report["copied_aus"] == [2, 1] and report["new_aus"] == [9, 26]
    assert sorted(report["per_au_layers"]) == sorted(f"jaanet_{n}" for n in JAANET_PER_AU_LAYERS)
    assert "jaanet_region1_hmr" in report["shared_layers"]
    for layer in target.layers:
        if not layer.weights:
            continue
        source_weights = source.get_layer(layer.name).get_weights()
        name = layer.name.removeprefix("jaanet_")
        layout = JAANET_PER_AU_LAYERS.get(name)
        for value, old, origin in zip(
            layer.get_weights(), initial[layer.name], source_weights, strict=True
        ):
            if layout is None:
                np.testing.assert_array_equal(value, origin)
                continue
            for index, au in enumerate((2, 9, 1, 26)):
                got = _per_au_slices(value, 4, index, layout)
                if au in (1, 2):
                    want = _per_au_slices(origin, 5, (1, 2, 4, 6, 12).index(au), layout)
                else:
                    want = _per_au_slices(old, 4, index, layout)
                np.testing.assert_array_equal(got, want)
    # Functionally: the refined attention of a shared AU is the source's, exactly.
    image = np.random.default_rng(0).uniform(-1, 1, (2, 48, 48, 3)).astype("float32")
    src = source({"image": image}, training=False)
    dst = target({"image": image}, training=False)
    np.testing.assert_array_equal(dst["landmarks"], src["landmarks"])
    np.testing.assert_allclose(dst["attention"][..., 0], src["attention"][..., 1], atol=1e-6)
    np.testing.assert_allclose(dst["attention"][..., 2], src["attention"][..., 0], atol=1e-6)
    with pytest.raises(ValueError, match=r"`target_aus` must be the AUs model 'jaanet' was built"):
        transfer_au_branches(source, target, target_aus=(1, 2, 4, 6))
    wider = tfau.models.JAANet(aus=(1, 2), input_size=48, c=2, d=32)
    kept = [np.array(w) for w in wider.get_weights()]
    with pytest.raises(ValueError, match="build both models with the same widths"):
        transfer_au_branches(source, wider)
    # The mismatch is in the fc layers, after the region layers: nothing was assigned.
    for a, b in zip(kept, wider.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_linear_au_regression_recovers_a_known_linear_map():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=(40, 3)) < 0.4).astype("float32")
    # Features: the labels and noise, mixed by an invertible matrix, plus an offset. The
    # labels are an exact linear function of the features: regression recovers them.
    latent = np.concatenate([labels, rng.normal(size=(40, 5))], axis=1)
    mixing = rng.normal(size=(8, 8))
    features = latent @ mixing + 3.0
    unknown = labels.copy()
    unknown[::7, 1] = -1  # unknown labels are left out of AU 1's fit
    regression = fit_linear_au_regression(features, unknown)
    inverse = np.linalg.inv(mixing)[:, :3]
    np.testing.assert_allclose(regression.weights, inverse, atol=1e-8)
    np.testing.assert_allclose(regression.bias, -3.0 * inverse.sum(axis=0), atol=1e-8)
    np.testing.assert_allclose(regression.predict(features), labels, atol=1e-5)
    # Against sklearn on noisy labels (AU 1 without its unknown rows).
    noisy = np.where(unknown >= 0, unknown + rng.normal(scale=0.3, size=unknown.shape), -1)
    fitted = fit_linear_au_regression(features, noisy)
    known = noisy[:, 1] >= 0
    reference = LinearRegression().fit(features[known], noisy[known, 1])
    np.testing.assert_allclose(fitted.weights[:, 1], reference.coef_, atol=1e-8)
    np.testing.assert_allclose(fitted.bias[1], reference.intercept_, atol=1e-8)
    ridge = fit_linear_au_regression(features, labels, l2=1e3)
    assert np.linalg.norm(ridge.weights) < np.linalg.norm(regression.weights)
    with pytest.raises(ValueError, match="AU column 0 has no known"):
        fit_linear_au_regression(features, np.full((40, 1), -1.0))
    with pytest.raises(ValueError, match=r"`features` must have shape \(n, 8\)"):
        regression.predict(features[:, :4])


def test_enet_starts_as_a_complete_copy_of_fvgg():
    import tfau.models
    from tfau.training import transfer_vgg_encoder

    kwargs = dict(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
    fvgg, enet = tfau.models.FVGG(**kwargs), tfau.models.ENet(**kwargs)
    assigned = transfer_vgg_encoder(fvgg, enet, include_head=True)
    weighted = [layer.name for layer in enet.layers if layer.weights]
    # E-Net's enhancing layers have no weights: every weighted layer comes from FVGG.
    assert sorted(assigned) == sorted(weighted)
    for name in weighted:
        origin = fvgg.get_layer(name.replace("enet_", "fvgg_", 1))
        for a, b in zip(enet.get_layer(name).get_weights(), origin.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    other = tfau.models.ENet(**{**kwargs, "head_units": 8})
    with pytest.raises(ValueError, match="Cannot copy fvgg_head_fc into enet_head_fc"):
        transfer_vgg_encoder(fvgg, other, include_head=True)


def _eacnet_config(**changes):
    return TrainConfig(
        model="EACNet",
        dataset="synth_au/tiny",
        model_kwargs={
            "input_size": 32,
            "width": 1 / 16,
            "fc_units": 32,
            "head_units": 16,
            "region_units": 8,
            "frozen_groups": 4,
        },
        pipeline_kwargs={"input_size": 32},
        batch_size=2,
        epochs=1,
        steps_per_epoch=2,
        losses={"au": {"name": "offset_cross_entropy"}},
        optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
        **changes,
    )


def test_eacnet_stages_carry_the_vgg_weights_and_the_disfa_protocol(synth_data_dir, tmp_path):
    import tfau.data
    from tfau.metrics import f1_frame
    from tfau.training import extract_features, linear_transfer_fold, train_eacnet_staged
    from tfau.training.building import build_model

    config = _eacnet_config()
    result = train_eacnet_staged(
        config, data_dir=synth_data_dir, run_dir=str(tmp_path), log=lambda message: None
    )
    fvgg, enet, eacnet = result["fvgg"], result["enet"], result["eacnet"]
    assert sorted(os.listdir(tmp_path)) == ["1_fvgg", "2_enet", "3_eacnet"]
    assert all(np.isfinite(h[-1]["loss"]) for h in result["histories"].values())
    # FVGG (groups 1-3 frozen) trains group 4; E-Net and EAC-Net keep groups 1-4 frozen, so
    # all three hold FVGG's trained group 4.
    fvgg_kwargs = {
        k: config.model_kwargs[k] for k in ("input_size", "width", "fc_units", "head_units")
    }
    fresh = {
        "FVGG": build_model(
            config, data_dir=synth_data_dir, model_name="FVGG", model_kwargs=fvgg_kwargs
        ),
        "EACNet": build_model(config, data_dir=synth_data_dir),
    }
    for index in range(1, 5):
        trained = fvgg.get_layer(f"fvgg_block4_conv{index}").get_weights()[0]
        initial = fresh["FVGG"].get_layer(f"fvgg_block4_conv{index}").get_weights()[0]
        assert not np.allclose(trained, initial)
        for model in (enet, eacnet):
            np.testing.assert_array_equal(
                model.get_layer(f"{model.name}_block4_conv{index}").get_weights()[0], trained
            )
    # E-Net's trained group 5 / fc6 start EAC-Net, whose own training moves them on; the
    # C-Net layers are trained from their initial values.
    for name in ("eacnet_cnet_region_conv", "eacnet_cnet_region_fc", "eacnet_head_fc"):
        assert not np.allclose(
            eacnet.get_layer(name).get_weights()[0],
            fresh["EACNet"].get_layer(name).get_weights()[0],
        )
    # EAC-Net's DISFA protocol on the trained network: fc 2048 features + linear regression.
    pipeline = tfau.data.get_pipeline("EACNet", input_size=32)
    fold = linear_transfer_fold(
        eacnet,
        dataset="synth_au/tiny",
        train_split="part1+part2",
        test_split="part3",
        data_dir=synth_data_dir,
        pipeline=pipeline,
        l2=1.0,
    )
    assert fold["num_train"] == 12 and fold["num_test"] == 6 and len(fold["f1"]) == 12
    train = tfau.data.load_split("synth_au/tiny", "part1+part2", synth_data_dir)
    features, labels = extract_features(eacnet, pipeline(train, training=False, batch_size=5))
    assert features.shape == (12, 16) and labels.shape == (12, 12)
    # Features extracted at another batch size: equal up to float rounding, which differs by
    # CPU (without oneDNN on AMD: relative 1e-5 on the features).
    np.testing.assert_allclose(
        fold["regression"].weights,
        fit_linear_au_regression(features, labels, l2=1.0).weights,
        rtol=1e-3,
        atol=1e-5,
    )
    test = tfau.data.load_split("synth_au/tiny", "part3", synth_data_dir)
    features, labels = extract_features(eacnet, pipeline(test, training=False, batch_size=4))
    scores = fold["regression"].predict(features)
    np.testing.assert_allclose(fold["f1"], f1_frame(labels, scores), atol=1e-6)


def test_hydranet_heads_train_one_at_a_time(synth_data_dir, tmp_path):
    from tfau.models.aunets import hydranet_aus
    from tfau.training import train_hydranet_heads
    from tfau.training.building import build_model

    config = TrainConfig(
        model="HydraNet",
        dataset="synth_au/tiny",
        model_kwargs={"input_size": 32, "width": 1 / 16, "fc_units": 16},
        pipeline_kwargs={"input_size": 32},
        batch_size=2,
        epochs=2,
        steps_per_epoch=1,
        checkpoint_every=100,
        keep_checkpoints=5,
        losses={"au": {"name": "sigmoid_cross_entropy"}},
        optimizer={"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    )
    quiet = dict(data_dir=synth_data_dir, run_dir=str(tmp_path), log=lambda message: None)
    two, histories = train_hydranet_heads(config, [1, 2], **quiet)
    assert hydranet_aus(two) == ["1", "2"] and list(histories) == ["1", "2"]
    snapshot = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in two.layers}
    grown, _ = train_hydranet_heads(config, [4], model=two, **quiet)
    assert hydranet_aus(grown) == ["1", "2", "4"]
    assert sorted(os.listdir(tmp_path)) == ["1_au1", "2_au2", "3_au4"]
    assert tuple(grown.outputs[0].shape) == (None, 3)
    # The encoder and the earlier heads are bit-identical after the next head trained.
    for name, values in snapshot.items():
        for a, b in zip(values, grown.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # The encoder is still its initial one (the builder's, same seed).
    fresh = build_model(config, data_dir=synth_data_dir, num_aus=1, aus=["1"])
    np.testing.assert_array_equal(
        grown.get_layer("hydranet_block5_conv3").get_weights()[0],
        fresh.get_layer("hydranet_block5_conv3").get_weights()[0],
    )
    # Between the two epochs of head "2" (checkpoints of its stage) only head "2" moved.
    state = tf.train.get_checkpoint_state(os.path.join(tmp_path, "2_au2", "checkpoints"))
    readers = [tf.train.load_checkpoint(p) for p in state.all_model_checkpoint_paths]
    assert len(readers) == 2
    epochs = [
        [
            r.get_tensor(f"model_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE")
            for i in range(len(two.variables))
        ]
        for r in readers
    ]
    weights = {id(w) for w in two.weights}  # not the dropout seed states
    moved = {
        v.path
        for v, a, b in zip(two.variables, epochs[0], epochs[1], strict=True)
        if id(v) in weights and not np.array_equal(a, b)
    }
    assert moved and all(path.startswith("hydranet_au2_") for path in moved), moved
    # The final model has its builder's flags: encoder frozen, heads trainable.
    assert not grown.get_layer("hydranet_block1_conv1").trainable
    assert all(grown.get_layer(f"hydranet_au{au}_fc6").trainable for au in (1, 2, 4))


def test_aunets_domain_adaptation_carries_the_pretrained_encoder(synth_data_dir, tmp_path):
    import keras

    import tfau.data
    import tfau.models
    from tfau.training import train_aunets_domain_adapted

    examples = tfau.data.load_split("synth_au/tiny", "part1+part2", synth_data_dir)
    views = tfau.data.get_pipeline("AUNetsViewClassifier", input_size=32)(
        examples, training=True, batch_size=4
    )
    config = TrainConfig(
        model="HydraNet",
        dataset="synth_au/tiny",
        model_kwargs={"input_size": 32, "width": 1 / 16, "fc_units": 16, "num_aus": 12},
        pipeline_kwargs={"input_size": 32},
        batch_size=2,
        epochs=1,
        steps_per_epoch=2,
        losses={"au": {"name": "sigmoid_cross_entropy"}},
        optimizer={"name": "adam", "learning_rate": 1e-4, "beta_1": 0.5},
    )
    result = train_aunets_domain_adapted(
        config,
        views,
        num_classes=2,
        pretrain_epochs=2,
        pretrain_learning_rate=1e-3,
        data_dir=synth_data_dir,
        run_dir=str(tmp_path),
        log=lambda message: None,
    )
    pretrained, model = result["pretrained"], result["model"]
    assert len(result["pretrain_history"]["loss"]) == 2
    assert np.isfinite(result["pretrain_history"]["loss"]).all()
    assert np.isfinite(result["history"][-1]["loss"])
    keras.utils.set_random_seed(config.seed)
    untrained = tfau.models.AUNetsViewClassifier(
        input_size=32, num_views=2, width=1 / 16, fc_units=16
    )
    for index in range(1, 4):
        name = f"block5_conv{index}"
        weights = pretrained.get_layer(f"aunets_view_{name}").get_weights()[0]
        # Pretraining moved the encoder, and the HydraNet's frozen encoder is that one.
        assert not np.allclose(weights, untrained.get_layer(f"aunets_view_{name}").get_weights()[0])
        np.testing.assert_array_equal(model.get_layer(f"hydranet_{name}").get_weights()[0], weights)
    assert "hydranet_au0_fc6" in result["transferred"]
    assert "hydranet_block1_conv1" in result["transferred"]
