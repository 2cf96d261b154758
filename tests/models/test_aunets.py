"""AUNets builders: fusions, HydraNet heads, view routing, weight loading, Table 3 counts."""

import gc

import keras
import numpy as np
import pytest
import tensorflow as tf
from learning_check import LEARNING_SEED, assert_learns, cosine_adam

import tfau.models
from tfau.models import aunets
from tfau.models.aunets import (
    AUNet,
    AUNetsViewClassifier,
    HydraNet,
    MultiViewEnsemble,
    add_hydranet_head,
    hydranet_aus,
)
from tfau.models.vgg import load_vgg_weights, read_vgg_weights, vgg_filters

TINY = {"input_size": 32, "width": 1 / 16, "fc_units": 32}
RNG = np.random.default_rng(0)


def _batch(size=2, side=32):
    return {
        "image": RNG.random((size, side, side, 3), dtype=np.float32),
        "flow": RNG.random((size, side, side, 3), dtype=np.float32),
    }


def _feed(model, batch):
    return {t.name: batch[t.name] for t in model.inputs}


def _num(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_registry_lists_the_aunets_builders():
    names = set(tfau.models.list_models())
    assert {
        "AUNet",
        "AUNetFlow",
        "AUNetChannels",
        "AUNetHorizontal",
        "AUNetPiConv",
        "AUNetPiFC6",
        "AUNetPiFC7",
        "HydraNet",
        "AUNetsViewClassifier",
    } <= names
    assert tfau.models.get("AUNetHorizontal")(**TINY).name == "aunet_horizontal"


@pytest.mark.parametrize(
    "fusion, inputs",
    [
        (None, ["image"]),
        ("alone", ["flow"]),
        ("channels", ["flow", "image"]),
        ("horizontal", ["flow", "image"]),
        ("pi_conv", ["flow", "image"]),
        ("pi_fc6", ["flow", "image"]),
        ("pi_fc7", ["flow", "image"]),
    ],
)
def test_aunet_fusions_inputs_and_output(fusion, inputs):
    model = AUNet(num_aus=2, fusion=fusion, **TINY)
    assert sorted(t.name for t in model.inputs) == inputs
    out = model(_feed(model, _batch()))
    assert list(out) == ["au"]
    assert out["au"].shape == (2, 2)
    assert out["au"].dtype == "float32"
    assert np.all((np.asarray(out["au"]) > 0) & (np.asarray(out["au"]) < 1))


def test_horizontal_fusion_doubles_fc6_inputs():
    model = AUNet(fusion="horizontal", input_size=64, width=1 / 16, fc_units=32)
    # 64 x 128 input -> pool5 2 x 4 x 32 -> fc6 has 256 inputs.
    assert model.get_layer("aunet_horizontal_fc6").kernel.shape == (2 * 4 * 32, 32)


def test_channels_fusion_copies_rgb_filters_into_flow_channels():
    model = AUNet(fusion="channels", **TINY)
    kernel = model.get_layer("aunet_channels_block1_conv1").kernel.numpy()
    assert kernel.shape == (3, 3, 6, vgg_filters(1 / 16)[0])
    np.testing.assert_array_equal(kernel[:, :, 3:], kernel[:, :, :3])


@pytest.mark.parametrize("fusion, stage", [("pi_conv", 0), ("pi_fc6", 1), ("pi_fc7", 2)])
def test_two_streams_start_equal_and_freeze_the_rgb_stream(fusion, stage):
    model = AUNet(fusion=fusion, **TINY)
    name = f"aunet_{fusion}"
    rgb = [layer for layer in model.layers if layer.name.startswith(f"{name}_rgb_")]
    flow = [layer for layer in model.layers if layer.name.startswith(f"{name}_flow_")]
    assert len(rgb) == len(flow) == 18 + 1 * (stage > 0) + 2 * stage  # 13 conv + 5 pool ...
    for a, b in zip(rgb, flow, strict=True):
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)
    assert not any(layer.trainable_weights for layer in rgb)
    assert all(layer.trainable for layer in flow)
    rgb_params = _num(w for layer in rgb for w in layer.weights)
    assert _num(model.trainable_weights) == model.count_params() - rgb_params
    unfrozen = AUNet(fusion=fusion, freeze_rgb_stream=False, **TINY)
    assert _num(unfrozen.trainable_weights) == unfrozen.count_params()


def test_fusions_start_from_a_trained_rgb_aunet():
    rgb = AUNet(**TINY)
    conv1 = rgb.get_layer("aunet_block1_conv1").kernel.numpy()
    fc6 = rgb.get_layer("aunet_fc6").kernel.numpy()  # (1 * 1 * 32, 32)
    channels = AUNet(fusion="channels", rgb_model=rgb, **TINY)
    np.testing.assert_array_equal(
        channels.get_layer("aunet_channels_block1_conv1").kernel.numpy(),
        np.concatenate([conv1, conv1], axis=2),
    )
    horizontal = AUNet(fusion="horizontal", rgb_model=rgb, **TINY)
    wide = horizontal.get_layer("aunet_horizontal_fc6").kernel.numpy()  # (1 * 2 * 32, 32)
    np.testing.assert_array_equal(wide.reshape(1, 2, 32, 32)[:, 0], fc6.reshape(1, 32, 32))
    np.testing.assert_array_equal(wide.reshape(1, 2, 32, 32)[:, 1], fc6.reshape(1, 32, 32))
    pi_fc6 = AUNet(fusion="pi_fc6", rgb_model=rgb, **TINY)
    fc7 = rgb.get_layer("aunet_fc7").kernel.numpy()
    np.testing.assert_array_equal(
        pi_fc6.get_layer("aunet_pi_fc6_fc7").kernel.numpy(), np.concatenate([fc7, fc7])
    )
    for stream in ("rgb", "flow"):
        np.testing.assert_array_equal(
            pi_fc6.get_layer(f"aunet_pi_fc6_{stream}_block5_conv3").kernel.numpy(),
            rgb.get_layer("aunet_block5_conv3").kernel.numpy(),
        )
    with pytest.raises(ValueError, match="must be an RGB AUNet"):
        AUNet(fusion="channels", rgb_model=channels, **TINY)


def test_hydranet_encoder_is_frozen_and_heads_are_named_by_au():
    model = HydraNet(num_aus=3, aus=(1, 2, 4), **TINY)
    assert hydranet_aus(model) == ["1", "2", "4"]
    encoder = [layer for layer in model.layers if layer.name.startswith("hydranet_block")]
    assert len(encoder) == 18
    assert not any(layer.trainable_weights for layer in encoder)
    encoder_params = _num(w for layer in encoder for w in layer.weights)
    assert _num(model.trainable_weights) == model.count_params() - encoder_params
    head = _num(model.get_layer("hydranet_au1_fc6").weights)
    head += _num(model.get_layer("hydranet_au1_fc7").weights)
    head += _num(model.get_layer("hydranet_au1_logits").weights)
    assert _num(model.trainable_weights) == 3 * head
    assert model(_feed(model, _batch()))["au"].shape == (2, 3)


def test_adding_a_hydranet_head_leaves_the_others_untouched():
    model = HydraNet(num_aus=2, aus=(1, 2), **TINY)
    batch = _batch(3)
    before = np.asarray(model(_feed(model, batch))["au"])
    weights_before = {layer.name: layer.get_weights() for layer in model.layers}
    grown = add_hydranet_head(model, 4)
    assert hydranet_aus(grown) == ["1", "2", "4"]
    after = np.asarray(grown(_feed(grown, batch))["au"])
    assert after.shape == (3, 3)
    np.testing.assert_array_equal(after[:, :2], before)
    for layer in model.layers:
        if layer.name == "hydranet_au":  # the output concatenation is rebuilt
            continue
        assert grown.get_layer(layer.name) is layer  # shared, not copied
        for old, new in zip(weights_before[layer.name], layer.get_weights(), strict=True):
            np.testing.assert_array_equal(old, new)
    assert grown.get_layer("hydranet_au4_fc6").trainable
    assert not grown.get_layer("hydranet_block1_conv1").trainable
    np.testing.assert_array_equal(np.asarray(model(_feed(model, batch))["au"]), before)
    with pytest.raises(ValueError, match="already has a head for AU 4"):
        add_hydranet_head(grown, 4)
    with pytest.raises(ValueError, match="must be a HydraNet"):
        add_hydranet_head(AUNet(**TINY), 4)


def test_view_classifier_outputs_view_probabilities():
    model = AUNetsViewClassifier(num_views=9, **TINY)
    view = np.asarray(model(_feed(model, _batch(4)))["view"])
    assert view.shape == (4, 9)
    np.testing.assert_allclose(view.sum(axis=1), 1.0, rtol=1e-5)


def _constant_au_model(probability_logit):
    """A tiny AUNet whose output is sigmoid(probability_logit) for any input."""
    model = AUNet(**TINY)
    logits = model.get_layer("aunet_au_logits")
    kernel, bias = logits.get_weights()
    logits.set_weights([np.zeros_like(kernel), np.full_like(bias, probability_logit)])
    return model


def _view_classifier(view_logits):
    model = AUNetsViewClassifier(num_views=len(view_logits), **TINY)
    layer = model.get_layer("aunets_view_logits")
    kernel, _ = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.asarray(view_logits, np.float32)])
    return model


def test_ensemble_routes_a_video_to_its_views_models():
    frames = _batch(5)["image"]
    view_0 = [_constant_au_model(4.0), _constant_au_model(-4.0)]
    view_1 = [_constant_au_model(-3.0), _constant_au_model(3.0)]
    for predicted, expected in ((0, [4.0, -4.0]), (1, [-3.0, 3.0])):
        logits = [3.0, 0.0] if predicted == 0 else [0.0, 3.0]
        ensemble = MultiViewEnsemble(_view_classifier(logits), {0: view_0, 1: view_1})
        result = ensemble.predict(frames)
        assert result["view"] == predicted
        np.testing.assert_allclose(
            result["view_probabilities"], np.exp(logits) / np.exp(logits).sum(), rtol=1e-5
        )
        assert result["au"].shape == (5, 2)
        np.testing.assert_allclose(
            result["au"], np.tile(1 / (1 + np.exp(-np.asarray(expected))), (5, 1)), rtol=1e-5
        )
    ensemble = MultiViewEnsemble(_view_classifier([0.0, 3.0]), {0: view_0})
    with pytest.raises(KeyError, match="predicted view is 1 but models were given only for"):
        ensemble.predict(frames)


def test_ensemble_feeds_flow_to_flow_models():
    flow_model = AUNet(fusion="horizontal", **TINY)
    ensemble = MultiViewEnsemble(_view_classifier([0.0, 1.0]), {1: flow_model})
    video = _batch(4)
    result = ensemble.predict(video)
    np.testing.assert_allclose(
        result["au"], np.asarray(flow_model.predict(video, verbose=0)["au"]), rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"needs inputs \['flow', 'image'\]; the video lacks"):
        ensemble.predict(video["image"])


def test_ensemble_aggregates_frames_by_mean_or_max():
    # A view classifier whose per-frame logits are the frame's mean colour (0 vs channel 0).
    image = keras.Input((4, 4, 3), name="image")
    pooled = keras.layers.GlobalAveragePooling2D()(image)
    logits = keras.layers.Dense(2, name="logits")(pooled)
    view = keras.layers.Softmax()(logits)
    classifier = keras.Model({"image": image}, {"view": view})
    classifier.get_layer("logits").set_weights(
        [np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], np.float32), np.zeros(2, np.float32)]
    )
    # Five frames mildly view 0 (p = 0.6), one strongly view 1 (p = 0.95).
    frames = np.zeros((6, 4, 4, 3), np.float32)
    frames[:5, ..., 0] = np.log(0.6 / 0.4)
    frames[5, ..., 1] = np.log(0.95 / 0.05)
    models = {0: _constant_au_model(1.0), 1: _constant_au_model(-1.0)}
    mean_view, mean_scores = MultiViewEnsemble(classifier, models).predict_view(frames)
    max_view, max_scores = MultiViewEnsemble(classifier, models, aggregate="max").predict_view(
        frames
    )
    np.testing.assert_allclose(mean_scores, [(5 * 0.6 + 0.05) / 6, (5 * 0.4 + 0.95) / 6], 1e-5)
    np.testing.assert_allclose(max_scores, [0.6, 0.95], rtol=1e-5)
    assert (mean_view, max_view) == (0, 1)
    with pytest.raises(ValueError, match="`aggregate` must be 'mean' or 'max'"):
        MultiViewEnsemble(classifier, models, aggregate="median")
    with pytest.raises(ValueError, match=r"View keys must be integers in \[0, 2\)"):
        MultiViewEnsemble(classifier, {2: models[0]})


def _keras_applications_style_vgg16(width=1 / 16, side=32, fc_units=32):
    """A narrow VGG-16 with keras.applications' layer names (block1_conv1 ... fc1, fc2)."""
    image = keras.Input((side, side, 3))
    x = image
    for group, (filters, convs) in enumerate(
        zip(vgg_filters(width), (2, 2, 3, 3, 3), strict=True), 1
    ):
        for index in range(1, convs + 1):
            x = keras.layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=f"block{group}_conv{index}"
            )(x)
        x = keras.layers.MaxPooling2D(name=f"block{group}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc2")(x)
    x = keras.layers.Dense(5, name="predictions")(x)
    return keras.Model(image, x)


@pytest.mark.parametrize("filename", ["vgg16_legacy.h5", "vgg16.weights.h5"])
def test_vgg_weights_load_by_name_from_local_files(tmp_path, filename):
    source = _keras_applications_style_vgg16()
    path = str(tmp_path / filename)
    if filename.endswith(".weights.h5"):
        source.save_weights(path)
    else:
        source.save(path)
    weights = read_vgg_weights(path)
    assert len(weights) == 15 and "predictions" not in weights
    model = AUNet(weights=path, **TINY)
    for name in ("block1_conv1", "block3_conv3", "block5_conv3"):
        np.testing.assert_array_equal(
            model.get_layer(f"aunet_{name}").kernel.numpy(), source.get_layer(name).kernel.numpy()
        )
    np.testing.assert_array_equal(
        model.get_layer("aunet_fc7").kernel.numpy(), source.get_layer("fc2").kernel.numpy()
    )
    hydra = HydraNet(num_aus=2, weights=path, **TINY)
    for au in ("0", "1"):
        np.testing.assert_array_equal(
            hydra.get_layer(f"hydranet_au{au}_fc6").kernel.numpy(),
            source.get_layer("fc1").kernel.numpy(),
        )
    pi_conv = AUNet(fusion="pi_conv", weights=path, **TINY)
    fused = pi_conv.get_layer("aunet_pi_conv_fc6").kernel.numpy().reshape(1, 1, 64, 32)
    fc1 = source.get_layer("fc1").kernel.numpy()
    np.testing.assert_array_equal(fused[0, 0, :32], fc1)
    np.testing.assert_array_equal(fused[0, 0, 32:], fc1)


def test_weights_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="tfau never downloads weights"):
        AUNet(weights="imagenet", **TINY)
    with pytest.raises(FileNotFoundError, match="Weights file not found"):
        AUNet(weights=str(tmp_path / "missing.h5"), **TINY)
    source = _keras_applications_style_vgg16(fc_units=16)
    path = str(tmp_path / "narrow_fc.h5")
    source.save(path)
    with pytest.raises(ValueError, match=r"Cannot load aunet_fc6: the file has shape \(32, 16\)"):
        load_vgg_weights(AUNet(**TINY), path, prefixes=("aunet",))


def test_argument_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="`fusion` must be one of"):
        AUNet(fusion="vertical", **TINY)
    with pytest.raises(ValueError, match="`input_size` must be a positive multiple of 32"):
        AUNet(input_size=100)
    with pytest.raises(ValueError, match="`num_aus` must be a positive integer"):
        AUNet(num_aus=0, **TINY)
    with pytest.raises(ValueError, match="`aus` must hold num_aus=2 distinct labels"):
        HydraNet(num_aus=2, aus=(1, 1), **TINY)
    with pytest.raises(ValueError, match="always uses fusion='horizontal'"):
        aunets.AUNetHorizontal(fusion="channels", **TINY)


# Table 3 of the paper: parameters per AU model (millions, truncated), total and learnable.
TABLE_3 = {
    "HydraNet": (134, 119),
    "AUNet": (134, 134),
    "Channels": (134, 134),
    "Horizontal": (237, 237),
    "pi/conv": (251, 237),
    "pi/fc6": (268, 151),
    "pi/fc7": (268, 134),
}


@pytest.fixture(scope="module")
def table_3_counts():
    """Builds each full-size (224) network once, keeps only its counts.

    Under ``keras.StatelessScope`` the variables are created with their real shapes but their
    random initial values are drawn lazily (never, here): the counts are those of the real
    models, without spending a minute drawing 1.6 billion random numbers.
    """
    builders = {
        "HydraNet": lambda: HydraNet(num_aus=1),
        "AUNet": lambda: AUNet(),
        "Channels": lambda: AUNet(fusion="channels"),
        "Horizontal": lambda: AUNet(fusion="horizontal"),
        "pi/conv": lambda: AUNet(fusion="pi_conv"),
        "pi/fc6": lambda: AUNet(fusion="pi_fc6"),
        "pi/fc7": lambda: AUNet(fusion="pi_fc7"),
    }
    counts = {}
    for name, build in builders.items():
        with keras.StatelessScope(initialize_variables=False):
            model = build()
            counts[name] = (model.count_params(), _num(model.trainable_weights))
        del model
        keras.backend.clear_session()
        gc.collect()
    print("AUNets Table 3 counts (total, learnable):", counts)
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("network", list(TABLE_3))
def test_parameter_counts_match_table_3(table_3_counts, network):
    total, learnable = table_3_counts[network]
    assert (total // 10**6, learnable // 10**6) == TABLE_3[network]


def test_outputs_stay_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        for model in (HydraNet(num_aus=2, **TINY), AUNet(fusion="pi_conv", **TINY)):
            assert model(_feed(model, _batch()))["au"].dtype == "float32"
        view = AUNetsViewClassifier(num_views=3, **TINY)
        assert view(_feed(view, _batch()))["view"].dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.slow
def test_tiny_aunet_learns_synth_au(synth_au_faces):
    from tfau.data import get_pipeline

    # A multi-AU RGB AUNet (every layer trainable) rather than HydraNet, whose encoder is
    # frozen by design (it comes from a trained AUNet). The AUNets pipeline: the face resized
    # to 64 (a multiple of 32 for VGG), Caffe's range; with random mirroring, without which
    # the mean F1 measured only 0.09-0.14 above chance (the network overfits 960 faces).
    pipeline = get_pipeline("AUNet", input_size=64, flip=True)

    def dataset(split, training):
        images, landmarks, labels = synth_au_faces[split]
        examples = {"image": images, "landmarks": landmarks, "au": labels}
        examples = tf.data.Dataset.from_tensor_slices(examples)
        batches = pipeline(examples, training=training, batch_size=16, repeat=training)
        # Caffe's range is +-128 for ImageNet weights; from random weights, /64 gives the
        # unit-scale input that the He-initialised VGG expects.
        return batches.map(lambda inputs, targets: ({"image": inputs["image"] / 64.0}, targets))

    train_labels, test_labels = synth_au_faces["train"][2], synth_au_faces["test"][2]
    keras.utils.set_random_seed(LEARNING_SEED)
    # Width 1/8 and no dropout: with fc layers of 64 units, dropout 0.5 slows learning so
    # much that 10 epochs are not enough (as for the tiny E-Net).
    model = AUNet(
        input_size=64, num_aus=train_labels.shape[1], width=1 / 8, fc_units=64, dropout=0.0
    )
    model.compile(
        optimizer=cosine_adam(1e-3, epochs=8, steps_per_epoch=len(train_labels) // 16),
        loss={"au": tfau.losses.MultiLabelSigmoidCrossEntropy()},
    )
    model.fit(
        dataset("train", training=True),
        steps_per_epoch=len(train_labels) // 16,
        epochs=8,
        shuffle=False,  # the pipeline shuffles
        verbose=0,
    )
    test = dataset("test", training=False).map(lambda inputs, targets: inputs)
    predictions = model.predict(test, verbose=0)["au"]
    assert_learns("AUNet-tiny", test_labels, predictions)
