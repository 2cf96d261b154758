"""Tests of tfau.layers.LandmarkAttention."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau import faces
from tfau.aus import BP4D_AUS
from tfau.layers import LandmarkAttention


def random_landmarks(batch=2, size=176, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1 * size, 0.9 * size, size=(batch, 49, 2)).astype(np.float32)


def test_jaanet_values_equal_the_faces_function():
    x = random_landmarks()
    layer = LandmarkAttention("jaanet", aus=BP4D_AUS, image_size=176)
    out = layer(x)
    assert out.shape == (2, 52, 52, 12)
    expected = faces.jaanet_attention_maps(x, BP4D_AUS, image_size=176, map_size=52)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    uniform = LandmarkAttention("jaanet", aus=(1, 2), uniform=True, zeta=0.2, map_size=44)(x)
    expected = faces.jaanet_attention_maps(x, (1, 2), 176, 44, zeta=0.2, uniform=True)
    np.testing.assert_array_equal(uniform.numpy(), expected.numpy())
    assert set(np.unique(uniform.numpy())) <= {0.0, 1.0}


def test_eacnet_values_equal_the_faces_function():
    x = random_landmarks(size=224)
    single = LandmarkAttention("eacnet", image_size=224)(x)
    assert single.shape == (2, 100, 100, 1)
    np.testing.assert_array_equal(
        single.numpy(), faces.eacnet_attention_map(x, image_size=224).numpy()
    )
    per_au = LandmarkAttention("eacnet", aus=(1, 12), image_size=(224, 224), map_size=56)(x)
    expected = faces.eacnet_attention_map(x, (224, 224), map_size=56, aus=(1, 12))
    assert per_au.shape == (2, 56, 56, 2)
    np.testing.assert_array_equal(per_au.numpy(), expected.numpy())


def test_defaults_follow_the_rule():
    jaanet = LandmarkAttention(aus=(1,))
    assert (jaanet.rule, jaanet.image_size, jaanet.map_size) == ("jaanet", 176, 52)
    eacnet = LandmarkAttention("eacnet")
    assert (eacnet.image_size, eacnet.map_size, eacnet.aus, eacnet.channels) == (224, 100, None, 1)
    assert LandmarkAttention(aus=(1,), image_size=(240, 200)).map_size == 58


def test_symbolic_call_and_compute_output_shape():
    inputs = keras.Input((49, 2))
    outputs = LandmarkAttention("jaanet", aus=(1, 2, 4))(inputs)
    assert outputs.shape == (None, 52, 52, 3)
    assert LandmarkAttention("eacnet").compute_output_shape((None, 49, 2)) == (None, 100, 100, 1)
    sixty_eight = keras.Input((68, 2))
    assert LandmarkAttention("eacnet", aus=(6, 7))(sixty_eight).shape == (None, 100, 100, 2)


@pytest.mark.parametrize(
    ("kwargs", "shape", "image_size"),
    [
        (dict(rule="jaanet", aus=(1, 6, 12), uniform=False, zeta=0.15), (2, 52, 52, 3), 176),
        (dict(rule="eacnet", aus=(4, 17), image_size=(176, 176)), (2, 100, 100, 2), (176, 176)),
    ],
)
def test_layer_harness(kwargs, shape, image_size):
    loaded = run_layer_test(
        LandmarkAttention,
        kwargs,
        random_landmarks(seed=3),
        shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        run_training_check=False,  # no weights, and the maps pass no gradient to landmarks
        mixed_precision_tolerance={"mixed_float16": 1e-3, "mixed_bfloat16": 1e-2},
        xla_tolerance=1e-6,  # XLA fuses 1 - s d
    )
    assert (loaded.aus, loaded.image_size) == (kwargs["aus"], image_size)


def test_exported_saved_model_serves_the_maps(tmp_path):
    inputs = keras.Input((49, 2))
    model = keras.Model(inputs, LandmarkAttention("jaanet", aus=(1, 12))(inputs))
    model.export(tmp_path / "maps", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "maps")).serve
    x = random_landmarks(seed=5)
    np.testing.assert_array_equal(served(tf.constant(x)).numpy(), model.predict(x, verbose=0))


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`rule` must be one of \('jaanet', 'eacnet'\)"):
        LandmarkAttention("drml")
    with pytest.raises(ValueError, match=r"`aus` is required for rule='jaanet'"):
        LandmarkAttention("jaanet")
    with pytest.raises(ValueError, match=r"`aus` must list AUs among .* Received: aus=\(5,\)"):
        LandmarkAttention("jaanet", aus=(5,))
    with pytest.raises(ValueError, match=r"rule='eacnet'\. Received: aus=\(9,\)"):
        LandmarkAttention("eacnet", aus=(9,))
    with pytest.raises(ValueError, match=r"`image_size` must be .* Received: image_size=0"):
        LandmarkAttention("eacnet", image_size=0)
    with pytest.raises(
        ValueError, match=r"`map_size` must be a positive integer\. Received: map_size=-3"
    ):
        LandmarkAttention("eacnet", map_size=-3)
    with pytest.raises(ValueError, match=r"`zeta` must be > 0\. Received: zeta=0"):
        LandmarkAttention(aus=(1,), zeta=0)
    with pytest.raises(ValueError, match=r"`xi` must be >= 0\. Received: xi=-1"):
        LandmarkAttention(aus=(1,), xi=-1)
    with pytest.raises(
        ValueError, match=r"shape \(batch, 49, 2\).*Received: input_shape=\(None, 50, 2\)"
    ):
        LandmarkAttention(aus=(1,))(keras.Input((50, 2)))
