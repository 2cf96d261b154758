"""PAttNet and its Table 3 baselines: structure, independence of the nine encoders, counts."""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf
from learning_check import LEARNING_SEED, assert_learns, cosine_adam

import tfau
from tfau.models import pattnet

TINY = tfau.models.tiny_kwargs("PAttNet")


def test_full_size_encoders_give_5184_features_per_patch():
    model = pattnet.PAttNet()
    for patch in range(1, 10):
        assert model.get_layer(f"pattnet_encoder_p{patch}_flatten").output.shape == (None, 5184)
    assert model.get_layer("pattnet_encoder_encodings").output.shape == (None, 9, 60)
    outputs = {key: tuple(value.shape) for key, value in model.output.items()}
    assert outputs == {"au": (None, 12), "patch_attention": (None, 9)}
    assert model.input["patches"].shape == (None, 9, 100, 100, 3)
    # Per patch: convs 2,432 + 51,264 + 102,464, BN 4 x (32 + 64 + 64), fc 5184 x 60 + 60.
    per_patch = 2_432 + 51_264 + 102_464 + 4 * 160 + 311_100
    attention = 60 * 60 + 60 + 60  # W, b, context vector
    assert model.count_params() == 9 * per_patch + attention + 60 * 12 + 12
    assert model.count_params() == 4_215_552


def test_nine_encoders_are_independent():
    model = pattnet.PAttNet(**TINY)
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(2, 9, 40, 40, 3)).astype("float32")
    assert tfau.models.get("PAttNet") is pattnet.PAttNet
    encodings = keras.Model(model.input, model.get_layer("pattnet_encoder_encodings").output)
    before = np.asarray(encodings({"patches": patches}, training=False))
    changed = patches.copy()
    changed[:, 4] = rng.normal(size=(2, 40, 40, 3))
    after = np.asarray(encodings({"patches": changed}, training=False))
    differs = np.abs(after - before).max(axis=(0, 2)) > 1e-6
    np.testing.assert_array_equal(differs, np.arange(9) == 4)


def test_forward_outputs_and_attention_normalisation():
    rng = np.random.default_rng(1)
    patches = rng.normal(size=(3, 9, 40, 40, 3)).astype("float32")
    sigmoid = pattnet.PAttNet(**TINY)({"patches": patches})
    assert np.asarray(sigmoid["au"]).shape == (3, 3)
    alpha = np.asarray(sigmoid["patch_attention"])
    assert alpha.shape == (3, 9) and np.all((alpha > 0) & (alpha < 1))
    softmax = tfau.models.get("PAttNet_Softmax")(**TINY)
    assert softmax.name == "pattnet_softmax"
    np.testing.assert_allclose(
        np.asarray(softmax({"patches": patches})["patch_attention"]).sum(1), 1, 1e-5
    )


def test_one_network_per_au():
    models = pattnet.PAttNetPerAU((1, 12), **{k: v for k, v in TINY.items() if k != "num_aus"})
    assert sorted(models) == [1, 12]
    assert models[12].name == "pattnet_au12"
    assert models[1].output["au"].shape == (None, 1)
    with pytest.raises(ValueError, match=r"Received: aus=\(1, 1\)"):
        pattnet.PAttNetPerAU((1, 1))


def test_single_patch_and_holistic_baselines():
    single = pattnet.PAttNetSinglePatch()
    assert single.input["image"].shape == (None, 100, 100, 3)
    assert single.get_layer("pattnet_single_patch_encoder_flatten").output.shape == (None, 5184)
    assert single.count_params() == (2_432 + 51_264 + 102_464 + 640 + 311_100) + 60 * 12 + 12
    holistic = pattnet.PAttNetHolistic()
    # 200 -> 196 -> 98 -> 94 -> 47 -> 43 -> 21: 21 x 21 x 64 features.
    assert holistic.get_layer("pattnet_holistic_encoder_flatten").output.shape == (None, 28_224)
    assert holistic.name == "pattnet_holistic"


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`attention` must be one of .* Received: attention='x'"):
        pattnet.PAttNet(**TINY, attention="x")
    with pytest.raises(ValueError, match=r"Received: input_shape=\(9, 32, 32, 3\)"):
        pattnet.PAttNet(**{**TINY, "input_shape": (9, 32, 32, 3)})
    with pytest.raises(ValueError, match=r"Received: input_shape=\(40, 40, 3\)"):
        pattnet.PAttNet(**{**TINY, "input_shape": (40, 40, 3)})
    with pytest.raises(ValueError, match=r"Received: filters=\(8, 8\)"):
        pattnet.PAttNet(**{**TINY, "filters": (8, 8)})
    with pytest.raises(ValueError, match=r"Received: encoding_size=0"):
        pattnet.PAttNetHolistic(encoding_size=0)


@pytest.mark.slow
def test_tiny_pattnet_learns_synth_au(synth_au_faces):
    from tfau.data.patches import pattnet_patches

    def patches(images, landmarks):
        # Cropped in a tf.data map (the pipelines' way), which runs as one traced graph.
        dataset = tf.data.Dataset.from_tensor_slices((images, landmarks))
        dataset = dataset.map(lambda image, points: pattnet_patches(image, points, 40))
        crops = np.concatenate([batch.numpy() for batch in dataset.batch(256)])
        return (crops - 128.0) / 64.0

    train_patches = patches(*synth_au_faces["train"][:2])
    test_patches = patches(*synth_au_faces["test"][:2])
    train_labels, test_labels = synth_au_faces["train"][2], synth_au_faces["test"][2]
    keras.utils.set_random_seed(LEARNING_SEED)
    model = pattnet.PAttNet(**{**TINY, "num_aus": train_labels.shape[1]})
    model.compile(
        optimizer=cosine_adam(1e-3, epochs=6, steps_per_epoch=len(train_labels) // 16),
        loss={"au": tfau.losses.WeightedBinaryCrossEntropy()},
    )
    model.fit({"patches": train_patches}, {"au": train_labels}, batch_size=16, epochs=6, verbose=0)
    predictions = model.predict({"patches": test_patches}, verbose=0)["au"]
    assert_learns("PAttNet-tiny", test_labels, predictions)


def test_docstring_examples():
    result = doctest.testmod(pattnet)
    assert result.attempted > 0 and result.failed == 0
