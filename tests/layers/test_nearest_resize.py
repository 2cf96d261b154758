import numpy as np
import pytest
import tensorflow as tf
from layer_harness import run_layer_test

from tfau.layers import NearestResize
from tfau.layers.nearest_resize import nearest_indices


def test_equals_torch_interpolate_nearest():
    torch = pytest.importorskip("torch")
    maps = np.random.default_rng(0).uniform(size=(2, 52, 52, 3)).astype("float32")
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(maps.transpose(0, 3, 1, 2)), size=44
    ).numpy()
    np.testing.assert_array_equal(NearestResize(44)(maps), expected.transpose(0, 2, 3, 1))


def test_indices_by_hand_and_unlike_tf_image_resize():
    # floor(i * 52 / 44) in float32, as PyTorch: 11 * 1.1818182 = 12.999999 -> 12, not 13.
    assert nearest_indices(52, 44)[:14].tolist() == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15]
    maps = np.arange(52 * 52, dtype="float32").reshape(1, 52, 52, 1)
    tf_nearest = tf.image.resize(maps, (44, 44), method="nearest")
    assert not np.array_equal(NearestResize(44)(maps), tf_nearest)


def test_layer_harness():
    maps = np.random.default_rng(1).uniform(size=(3, 10, 6, 2)).astype("float32")
    loaded = run_layer_test(
        NearestResize,
        dict(size=(4, 9)),
        maps,
        (3, 4, 9, 2),
        expected_num_trainable_weights=0,
        inputs_with_gradient=(0,),
        mixed_precision_tolerance={"mixed_float16": 1e-3, "mixed_bfloat16": 1e-2},
        xla_tolerance=0.0,
    )
    assert loaded.size == (4, 9)


def test_non_square_eagerly_and_in_a_dataset():
    maps = np.random.default_rng(1).uniform(size=(3, 10, 6, 2)).astype("float32")
    layer = NearestResize((4, 9))
    eager = np.asarray(layer(maps))
    np.testing.assert_array_equal(eager, maps[:, [0, 2, 5, 7]][:, :, [0, 0, 1, 2, 2, 3, 4, 4, 5]])
    mapped = tf.data.Dataset.from_tensor_slices(maps).batch(3).map(layer)
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), eager)


@pytest.mark.parametrize("size", [0, (2,), "4", (3, True)])
def test_bad_sizes(size):
    with pytest.raises(ValueError, match=r"`size` must be a positive integer"):
        NearestResize(size)


def test_unknown_input_size():
    with pytest.raises(ValueError, match="known height and width"):
        NearestResize(4).build((None, None, 8, 1))
