"""JAANet builder: outputs, head, attention from predicted landmarks, Table 3 switches, sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from learning_check import LEARNING_SEED, assert_learns, cosine_adam

import tfau
from tfau import faces
from tfau.aus import BP4D_AUS, DISFA_AUS
from tfau.layers import (
    AttentionRefinement,
    GradientScale,
    HierarchicalMultiScaleRegion,
    LandmarkAttention,
    RegionLayer,
)
from tfau.models.jaanet import JAANet

SIZE = 48  # l; maps are l/4 = 12 (refinement input 20)
TINY = {"input_size": SIZE, "num_aus": 3, "c": 2, "d": 16}
AUS = BP4D_AUS[:3]


def _images(batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, SIZE, SIZE, 3)).astype("float32")


def _face_landmarks(seed=1):
    """49 points spread over the middle of the image, so every AU window is on the map."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3 * SIZE, 0.7 * SIZE, size=(49, 2)).astype("float32")


def _copy_weights(source, target):
    """Copies weights layer by layer (stable names), whatever the layers' order."""
    for layer in source.layers:
        if layer.weights:
            target.get_layer(layer.name).set_weights(layer.get_weights())


def _fix_landmarks(model, landmarks):
    """Makes the alignment head output ``landmarks`` for any image (zero kernel, bias)."""
    fc2 = model.get_layer(f"{model.name}_align_fc2")
    kernel, _ = fc2.get_weights()
    fc2.set_weights([np.zeros_like(kernel), landmarks.reshape(-1)])


@pytest.fixture(scope="module")
def tiny():
    return JAANet(**TINY)


def test_registered_with_tiny_kwargs():
    assert "JAANet" in tfau.models.list_models()
    assert tfau.models.get("JAANet") is JAANet
    assert tfau.models.tiny_kwargs("JAANet") == TINY


def test_outputs_shapes_dtypes_and_ranges(tiny):
    assert tiny.name == "jaanet"
    assert [t.name for t in tiny.inputs] == ["image"]
    outputs = tiny({"image": _images()})
    assert sorted(outputs) == ["attention", "attention_initial", "au", "landmarks"]
    assert outputs["au"].shape == (2, 3)
    assert outputs["landmarks"].shape == (2, 49, 2)
    assert outputs["attention"].shape == (2, 12, 12, 3)
    assert outputs["attention_initial"].shape == (2, 12, 12, 3)
    for value in outputs.values():
        assert value.dtype == tf.float32
    au = outputs["au"].numpy()
    assert np.all((au > 0) & (au < 1))
    attention = outputs["attention"].numpy()
    assert np.all((attention > 0) & (attention < 1))  # sigmoid of the refinement


def test_au_is_present_class_of_two_way_softmax(tiny):
    images = _images()
    logits_model = keras.Model(tiny.inputs, tiny.get_layer("jaanet_au_fc2").output)
    logits = (
        logits_model({"image": images}).numpy().reshape(2, 2, 3)
    )  # (absent logits, present logits)
    expected = np.exp(logits[:, 1]) / (np.exp(logits[:, 0]) + np.exp(logits[:, 1]))
    np.testing.assert_allclose(tiny({"image": images})["au"], expected, rtol=1e-5, atol=1e-6)


def test_head_widths_follow_c_and_d(tiny):
    # pool2 is 12 x 12 x 8c; three pools leave 1 x 1 x 20c = 40 features per module.
    assert tiny.get_layer("jaanet_align_fc1").kernel.shape == (40, 16)
    assert tiny.get_layer("jaanet_align_fc2").kernel.shape == (16, 98)
    assert tiny.get_layer("jaanet_au_fc1").kernel.shape == (3 * 40, 16)
    assert tiny.get_layer("jaanet_au_fc2").kernel.shape == (16, 6)
    assert tiny.get_layer("jaanet_attention_refinement").width == 16  # 8c


def test_full_size_parameter_count():
    model = JAANet()
    # The authors' network has 22.2 M parameters (performance.md, their PyTorch code).
    assert round(model.count_params() / 1e6, 1) == 22.2
    # Head on 3 x (5 x 5 x 160) features of a 176 input; 12 AUs -> 24 logits.
    assert model.get_layer("jaanet_au_fc1").kernel.shape == (12000, 512)
    assert model.get_layer("jaanet_align_fc1").kernel.shape == (4000, 512)
    assert model.get_layer("jaanet_au_fc2").kernel.shape == (512, 24)
    assert model.get_layer("jaanet_region2_pool").output.shape == (None, 44, 44, 64)
    assert model.get_layer("jaanet_attention_initial_padded").output.shape == (None, 52, 52, 12)
    assert model.output["attention"].shape == (None, 44, 44, 12)


@pytest.mark.parametrize("c", [1, 2])
def test_region_switch_parameter_counts_match_section_4_3(c):
    # Sec. 4.3: besides the common first convolution, R(l1, l2, c1) has 9216 c1^2 + 256 c1
    # kernel/bias parameters and R_hm(l1, l2, c1) 4932 c1^2 + 148 c1; block 1 has c1 = c.
    size = 32
    hmr = JAANet(input_size=size, num_aus=2, c=c, d=8)
    drml = JAANet(input_size=size, num_aus=2, c=c, d=8, region="drml")
    plain = JAANet(input_size=size, num_aus=2, c=c, d=8, region="none")
    hmr_block = hmr.get_layer("jaanet_region1_hmr")
    drml_block = drml.get_layer("jaanet_region1_region")
    assert isinstance(hmr_block, HierarchicalMultiScaleRegion)
    assert isinstance(drml_block, RegionLayer)
    hmr_count = sum(
        int(np.prod(w.shape))
        for w in hmr_block.weights
        if w.name in ("kernel", "bias") and "patch_convolution" in w.path
    )
    drml_count = sum(
        int(np.prod(w.shape)) for w in drml_block.weights if w.name in ("kernel", "bias")
    )
    assert hmr_count == 4932 * c**2 + 148 * c
    assert drml_count == 9216 * c**2 + 256 * c
    for model in (drml, plain):
        assert not any(isinstance(layer, HierarchicalMultiScaleRegion) for layer in model.layers)
    assert not any(isinstance(layer, RegionLayer) for layer in plain.layers)
    assert plain.get_layer("jaanet_region1_2_conv").kernel.shape == (3, 3, 4 * c, 4 * c)


def test_attention_follows_the_predicted_landmarks():
    model = JAANet(**TINY)
    images = _images()
    landmarks = _face_landmarks()
    _fix_landmarks(model, landmarks)
    outputs = model({"image": images})
    np.testing.assert_allclose(outputs["landmarks"][0], landmarks, atol=1e-5)
    padded = faces.jaanet_attention_maps(
        np.stack([landmarks] * 2), AUS, image_size=SIZE, map_size=SIZE // 4 + 8
    ).numpy()
    # The refinement target: the authors' F.interpolate(size=l/4), nearest cell floor(i * s).
    scale = np.float32((SIZE // 4 + 8) / (SIZE // 4))
    cells = np.floor(np.arange(SIZE // 4, dtype=np.float32) * scale).astype(int)
    expected_initial = padded[:, cells][:, :, cells]
    assert expected_initial.max() == 1.0
    np.testing.assert_allclose(outputs["attention_initial"], expected_initial, atol=1e-6)
    cropped = JAANet(**TINY, attention_target="crop")
    cropped.set_weights(model.get_weights())
    np.testing.assert_allclose(
        cropped({"image": images})["attention_initial"], padded[:, 4:-4, 4:-4], atol=1e-6
    )

    # Moving the predicted landmarks (alignment weights) moves the maps the AU branches use.
    moved = landmarks + np.array([5.0, 3.0], "float32")
    _fix_landmarks(model, moved)
    moved_outputs = model({"image": images})
    expected_moved = faces.jaanet_attention_maps(
        np.stack([moved] * 2), AUS, image_size=SIZE, map_size=SIZE // 4 + 8
    ).numpy()[:, cells][:, :, cells]
    np.testing.assert_allclose(moved_outputs["attention_initial"], expected_moved, atol=1e-6)
    assert not np.allclose(moved_outputs["attention_initial"], outputs["attention_initial"])
    assert not np.allclose(moved_outputs["attention"], outputs["attention"], atol=1e-4)
    assert not np.allclose(moved_outputs["au"], outputs["au"], atol=1e-6)


def test_no_gradient_from_attention_to_landmarks(tiny):
    # The maps are built from the predicted landmarks without back-propagation (as the
    # authors' Caffe layer): the alignment head gets no gradient from the AU loss.
    fc2 = tiny.get_layer("jaanet_align_fc2")
    with tf.GradientTape() as tape:
        outputs = tiny({"image": _images()}, training=True)
        loss = tf.reduce_sum(outputs["au"]) + tf.reduce_sum(outputs["attention"])
    gradients = tape.gradient(loss, fc2.trainable_weights)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in gradients)


def test_without_refinement_attention_is_the_initial_map():
    model = JAANet(**TINY, refinement=False)
    assert not any(isinstance(layer, AttentionRefinement) for layer in model.layers)
    assert not any(isinstance(layer, GradientScale) for layer in model.layers)
    landmarks = _face_landmarks()
    _fix_landmarks(model, landmarks)
    outputs = model({"image": _images()})
    assert sorted(outputs) == ["attention", "au", "landmarks"]
    expected = faces.jaanet_attention_maps(
        np.stack([landmarks] * 2), AUS, image_size=SIZE, map_size=SIZE // 4
    ).numpy()
    np.testing.assert_allclose(outputs["attention"], expected, atol=1e-6)
    values = np.unique(expected)
    assert np.any((values > 0) & (values < 1))  # Gaussian-like decay inside the windows


@pytest.mark.parametrize("refinement", [True, False])
def test_uniform_attention_takes_values_0_and_1(refinement):
    model = JAANet(**TINY, refinement=refinement, attention_distribution="uniform")
    layers = [layer for layer in model.layers if isinstance(layer, LandmarkAttention)]
    assert len(layers) == 1 and layers[0].uniform
    _fix_landmarks(model, _face_landmarks())
    outputs = model({"image": _images()})
    initial = outputs["attention_initial" if refinement else "attention"].numpy()
    assert set(np.unique(initial)) == {0.0, 1.0}


def _refinement_gradients(model, images, output):
    refinement = model.get_layer("jaanet_attention_refinement")
    with tf.GradientTape() as tape:
        outputs = model({"image": images}, training=True)
        if output == "au":
            loss = tf.reduce_sum(outputs["au"] * np.array([1.0, -2.0, 0.5], "float32"))
        else:
            loss = tf.reduce_mean(
                tfau.losses.attention_refinement_loss(
                    outputs["attention_initial"], outputs["attention"]
                )
            )
    return [g.numpy() for g in tape.gradient(loss, refinement.trainable_weights)]


def test_enhancement_scales_only_the_au_loss_gradient_into_the_refinement():
    enhanced = JAANet(**TINY, lambda3=3.0)
    plain = JAANet(**TINY, lambda3=1.0)
    assert enhanced.get_layer("jaanet_attention_enhancement").scale == 3.0
    assert not any(isinstance(layer, GradientScale) for layer in plain.layers)
    _copy_weights(enhanced, plain)
    for model in (enhanced, plain):
        _fix_landmarks(model, _face_landmarks())
    images = _images()
    np.testing.assert_allclose(
        enhanced({"image": images})["au"], plain({"image": images})["au"], rtol=1e-6
    )
    au_enhanced = _refinement_gradients(enhanced, images, "au")
    au_plain = _refinement_gradients(plain, images, "au")
    assert max(np.abs(g).max() for g in au_plain) > 0
    for g_enhanced, g_plain in zip(au_enhanced, au_plain, strict=True):
        tolerance = 1e-5 * np.abs(g_plain).max()
        np.testing.assert_allclose(g_enhanced, 3.0 * g_plain, rtol=1e-4, atol=tolerance)
    # The refinement loss (eq. 4) reaches the maps directly and is not enhanced.
    for g_enhanced, g_plain in zip(
        _refinement_gradients(enhanced, images, "refinement"),
        _refinement_gradients(plain, images, "refinement"),
        strict=True,
    ):
        tolerance = 1e-5 * np.abs(g_plain).max()
        np.testing.assert_allclose(g_enhanced, g_plain, rtol=1e-4, atol=tolerance)


def test_local_first_stride_two_and_grouped_implementation():
    model = JAANet(input_size=64, num_aus=2, c=1, d=8, local_first_stride=2)
    # 16 x 16 maps -> stride 2 -> 8 -> three pools -> 1.
    assert model.get_layer("jaanet_local").output.shape == (None, 1, 1, 20)
    grouped = JAANet(**TINY, local_implementation="grouped")
    per_au = JAANet(**TINY)
    _copy_weights(per_au, grouped)
    images = _images()
    for key, value in per_au({"image": images}).items():
        np.testing.assert_allclose(grouped({"image": images})[key], value, rtol=1e-4, atol=1e-5)


def test_mixed_precision_outputs_are_float32():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        outputs = JAANet(**TINY)({"image": _images()})
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    for value in outputs.values():
        assert value.dtype == tf.float32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": 40}, r"`input_size` must be a multiple of 16 .* input_size=40"),
        ({"input_size": 16}, r"`input_size` must be at least 32 .* input_size=16"),
        (
            {"input_size": 48, "local_first_stride": 2},
            r"`input_size` must be at least 64 .* input_size=48",
        ),
        ({"input_size": 42, "region": "none"}, r"multiple of 4 .* input_size=42"),
        ({"region": "lcn"}, r"`region` must be one of .* region='lcn'"),
        ({"attention_distribution": "flat"}, r"attention_distribution='flat'"),
        ({"lambda3": 0.5}, r"`lambda3` must be a number >= 1. Received: lambda3=0.5"),
        ({"refinement": 1}, r"`refinement` must be a bool. Received: refinement=1"),
        ({"c": 0}, r"`c` must be a positive integer. Received: c=0"),
        ({"num_aus": 13}, r"must be at most 12; pass `aus` for other AUs. Received: num_aus=13"),
        ({"num_aus": 3, "aus": (1, 2)}, r"`num_aus` must equal the number of `aus`"),
        ({"aus": (1, 2, 3)}, r"`aus` must list AUs with JAA-Net attention centres"),
        ({"aus": (1, 1)}, r"`aus` must not repeat an AU"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JAANet(**{**TINY, **kwargs})


def test_disfa_aus_select_their_maps():
    model = JAANet(input_size=SIZE, aus=DISFA_AUS, c=1, d=8)
    assert model.output["au"].shape == (None, 8)
    attention = next(layer for layer in model.layers if isinstance(layer, LandmarkAttention))
    assert attention.aus == DISFA_AUS


@pytest.mark.slow
def test_tiny_jaanet_learns_synth_au(synth_au_faces, learning_aus):
    from tfau.data import get_pipeline

    # JAA-Net's own pipeline (random crop of the resized face and mirroring with permuted
    # landmarks when training, centre crop when testing, [-1, 1]), at 32 / 36 instead of
    # 176 / 200: 32 is the smallest input its grids allow (l/4 = 8 maps, three 2 x 2 pools),
    # and measured faster with a better F1 than 48 / 54 (mean F1 0.596 with Adam 1e-3).
    # Its landmarks follow every crop and flip: the alignment branch learns them and the
    # attention maps of the local branches are placed by the predicted ones.
    pipeline = get_pipeline("JAANet", input_size=32, source_size=36)

    def dataset(split, training):
        images, landmarks, labels = synth_au_faces[split]
        examples = {"image": images, "landmarks": landmarks, "au": labels}
        examples = tf.data.Dataset.from_tensor_slices(examples)
        return pipeline(examples, training=training, batch_size=16, repeat=training)

    train_labels, test_labels = synth_au_faces["train"][2], synth_au_faces["test"][2]
    keras.utils.set_random_seed(LEARNING_SEED)
    model = JAANet(input_size=32, aus=learning_aus, c=2, d=16, local_implementation="per_au")
    # Eq. 8 with the w_i of the training labels, plus the alignment loss (lambda1 = 0.5).
    # The refinement loss (eq. 4, lambda2 = 1e-7) is left out: its target is a model output.
    au_weights = tfau.losses.jaanet_au_weights(tfau.losses.occurrence_rates(train_labels))
    model.compile(
        optimizer=cosine_adam(2e-3, epochs=8, steps_per_epoch=len(train_labels) // 16),
        loss={
            "au": tfau.losses.JAANetAULoss(au_weights=au_weights.tolist()),
            "landmarks": tfau.losses.AlignmentLoss(),
        },
        loss_weights={"au": 1.0, "landmarks": 0.5},
    )
    model.fit(
        dataset("train", training=True),
        steps_per_epoch=len(train_labels) // 16,
        epochs=8,
        shuffle=False,  # the pipeline shuffles
        verbose=0,
    )
    test = dataset("test", training=False)
    outputs = model.predict(test.map(lambda inputs, targets: inputs), verbose=0)
    landmarks = np.concatenate([targets["landmarks"] for _, targets in test.as_numpy_iterator()])
    error = np.linalg.norm(outputs["landmarks"] - landmarks, axis=-1).mean()
    print(f"JAANet-tiny landmark error {error:.2f} px of 32")
    assert_learns("JAANet-tiny", test_labels, outputs["au"])
