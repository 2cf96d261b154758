"""tfau.data.flow: DIS recovers a known motion, the flow image formula, frame pairing."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tfau.data import flow


def _texture(size=64, seed=0):
    noise = np.random.default_rng(seed).random((size + 16, size + 16)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255
    return np.repeat(smooth[..., None], 3, axis=-1).astype(np.uint8)


def _shifted_pair(dx, dy, size=64):
    big = _texture(size)
    previous = big[8 : 8 + size, 8 : 8 + size]
    current = big[8 - dy : 8 - dy + size, 8 - dx : 8 - dx + size]  # content moves by (dx, dy)
    return previous, current


def test_dis_recovers_a_translation():
    previous, current = _shifted_pair(2, -1)
    field = flow.dis_flow(previous, current)
    assert field.shape == (64, 64, 2) and field.dtype == np.float32
    centre = field[16:48, 16:48].reshape(-1, 2)
    np.testing.assert_allclose(np.median(centre, axis=0), [2.0, -1.0], atol=0.25)


def _flow_image_reference(field, max_magnitude=None):
    magnitude = np.sqrt((field**2).sum(-1, keepdims=True))
    direction = np.where(magnitude < 1e-6, 0.0, field / np.maximum(magnitude, 1e-30))
    scale = magnitude.max() if max_magnitude is None else max_magnitude
    level = np.minimum(magnitude / scale if scale > 0 else 0 * magnitude, 1.0)
    return np.concatenate([127.5 * (1 + direction), 255 * level], axis=-1)


@pytest.mark.parametrize("max_magnitude", [None, 2.0])
def test_flow_to_image_matches_numpy(max_magnitude):
    field = np.random.default_rng(3).normal(size=(2, 5, 6, 2)).astype(np.float32)
    field[0, 0, 0] = 0.0
    out = flow.flow_to_image(field, max_magnitude).numpy()
    np.testing.assert_allclose(
        out, np.stack([_flow_image_reference(f, max_magnitude) for f in field]), atol=1e-4
    )
    np.testing.assert_allclose(out[0, 0, 0], [127.5, 127.5, 0.0])
    assert out.min() >= 0 and out.max() <= 255
    np.testing.assert_allclose(flow.flow_to_image(np.zeros((3, 3, 2))).numpy()[..., 2], 0.0)
    np.testing.assert_allclose(
        flow.flow_to_image(np.array([[[3.0, 4.0]]])).numpy(), [[[204.0, 229.5, 255.0]]]
    )


def test_a_flow_does_not_depend_on_the_frame_sizes_computed_before_it():
    """OpenCV's DIS object, once run on frames of another size, gives other flows (0.11 px
    here): tfau keeps one per frame size, so a flow is the same whatever came before."""
    import cv2

    previous, current = _shifted_pair(1, 1)
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (previous, current)]
    fresh = cv2.DISOpticalFlow_create(flow.DIS_PRESETS["medium"]).calc(*grey, None)
    flow.dis_flow(*_shifted_pair(2, 0, size=32))
    np.testing.assert_array_equal(flow.dis_flow(previous, current), fresh)


def test_flow_image_eager_equals_dataset_map():
    previous, current = _shifted_pair(1, 1)
    eager = flow.flow_image(previous, current).numpy()
    dataset = tf.data.Dataset.from_tensors((previous, current)).repeat(3)
    mapped = list(
        dataset.map(flow.flow_image, num_parallel_calls=3, deterministic=True).as_numpy_iterator()
    )
    for image in mapped:
        np.testing.assert_allclose(image, eager, atol=1e-5)
    assert eager.shape == (64, 64, 3)
    # Motion to the lower right: x and y directions above mid-grey in the textured centre.
    assert np.median(eager[16:48, 16:48, 0]) > 200 and np.median(eager[16:48, 16:48, 1]) > 200


def _frames_dataset(rows):
    images = np.stack([np.full((4, 4, 3), i, np.uint8) for i in range(len(rows))])
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": images,
            "sequence": [r[0] for r in rows],
            "frame": np.array([r[1] for r in rows], np.int32),
            "view": np.array([r[2] for r in rows], np.int32),
        }
    )


def test_previous_frame_pairs():
    rows = [("A", 1, 0), ("A", 2, 0), ("A", 4, 0), ("A", 5, 1), ("B", 6, 1), ("B", 7, 1)]
    out = list(flow.previous_frame_pairs(_frames_dataset(rows)).as_numpy_iterator())
    has_previous = [bool(e["has_previous"]) for e in out]
    # frame 4 follows a gap, frame 5 changes view, B/6 changes sequence.
    assert has_previous == [False, True, False, False, False, True]
    previous_ids = [int(e["previous_image"][0, 0, 0]) for e in out]
    assert previous_ids == [0, 0, 2, 3, 4, 4]
    with_gap = flow.previous_frame_pairs(_frames_dataset(rows), max_gap=2)
    assert [bool(e["has_previous"]) for e in with_gap.as_numpy_iterator()][2] is True


def test_previous_frame_pairs_on_encoded_images():
    images = [tf.io.encode_jpeg(np.full((8, 8, 3), 10 * i, np.uint8)) for i in range(3)]
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": tf.stack(images), "sequence": ["S"] * 3, "frame": np.arange(3, dtype=np.int32)}
    )
    out = list(flow.previous_frame_pairs(dataset).as_numpy_iterator())
    assert out[2]["previous_image"] == images[1].numpy()
    assert [bool(e["has_previous"]) for e in out] == [False, True, True]


def test_errors():
    with pytest.raises(ValueError, match="`preset` must be one of"):
        flow.optical_flow(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), preset="slow")
    with pytest.raises(ValueError, match="same size"):
        flow.dis_flow(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match=r"Expected an RGB image"):
        flow.dis_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"`flow` must have shape \(..., height, width, 2\)"):
        flow.flow_to_image(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="needs features 'image', 'sequence' and 'frame'"):
        flow.previous_frame_pairs(tf.data.Dataset.from_tensors({"image": np.zeros((2, 2, 3))}))
