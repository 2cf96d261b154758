"""tfau.data.transforms: numpy references, landmarks that follow the pixels, eager == map."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfau.data import transforms
from tfau.faces import LANDMARKS_49, flip_landmarks

RNG = np.random.default_rng(0)


def _image(height=20, width=24, channels=3):
    return RNG.integers(0, 256, size=(height, width, channels), dtype=np.uint8)


def _marked(height, width, points):
    """Black image with a distinct value at each integer landmark (pixel centre)."""
    image = np.zeros((height, width, 1), np.uint8)
    for i, (x, y) in enumerate(points):
        image[int(y), int(x), 0] = i + 1
    return image


def _points(num, width, height):
    """``num`` landmarks on distinct integer pixels."""
    flat = RNG.choice(height * width, size=num, replace=False)
    return np.stack([flat % width, flat // width], axis=-1).astype(np.float32)


def _in_map(fn, *args):
    """Runs ``fn`` inside Dataset.map on one element."""
    dataset = tf.data.Dataset.from_tensors(tuple(tf.convert_to_tensor(a) for a in args))
    return next(iter(dataset.map(lambda *xs: fn(*xs))))


def test_crop_matches_slicing_and_moves_landmarks():
    image, points = _image(), _points(49, 24, 20)
    cropped, moved = transforms.crop(image, points, 3, 5, 12)
    np.testing.assert_array_equal(cropped.numpy(), image[3:15, 5:17])
    np.testing.assert_allclose(moved.numpy(), points - [5, 3])


def test_centre_crop_offsets_are_jaanet_and_drml_ones():
    image = np.arange(200 * 200 * 3, dtype=np.int32).reshape(200, 200, 3)
    cropped, _ = transforms.centre_crop(image, None, 176)
    np.testing.assert_array_equal(cropped.numpy(), image[12:188, 12:188])
    cropped, _ = transforms.centre_crop(image, None, 170)
    np.testing.assert_array_equal(cropped.numpy(), image[15:185, 15:185])


def test_random_crop_landmarks_stay_on_their_pixels():
    points = _points(10, 40, 30)
    image = _marked(30, 40, points)
    for index in range(5):
        seed = transforms.example_seed(7, index)
        cropped, moved = transforms.random_crop(image, points, 28, seed)
        cropped, moved = cropped.numpy(), moved.numpy()
        for i, (x, y) in enumerate(moved):
            if 0 <= x < 28 and 0 <= y < 28:
                assert cropped[int(y), int(x), 0] == i + 1


def test_random_crop_is_deterministic_per_seed_and_covers_offsets():
    image = np.arange(10 * 10, dtype=np.int32).reshape(10, 10, 1)
    offsets = set()
    for index in range(200):
        a, _ = transforms.random_crop(image, None, 7, transforms.example_seed(3, index))
        b, _ = transforms.random_crop(image, None, 7, transforms.example_seed(3, index))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        offsets.add(divmod(int(a.numpy()[0, 0, 0]), 10))
    assert offsets == {(y, x) for y in range(4) for x in range(4)}
    c, _ = transforms.random_crop(image, None, 7, transforms.example_seed(4, 0))
    d = [transforms.random_crop(image, None, 7, transforms.example_seed(4, i))[0] for i in (1, 2)]
    assert len({int(t.numpy()[0, 0, 0]) for t in [c, *d]}) > 1


def test_flip_mirrors_pixels_and_permutes_landmarks():
    points = _points(49, 30, 20)
    image = _marked(20, 30, points)
    flipped, moved = transforms.flip_horizontal(image, points)
    np.testing.assert_array_equal(flipped.numpy(), image[:, ::-1])
    np.testing.assert_allclose(moved.numpy(), flip_landmarks(points, 30))
    permutation = np.asarray(LANDMARKS_49.flip_permutation)
    for i, (x, y) in enumerate(moved.numpy()):
        # Point i of the flipped face sits where the mirrored point permutation[i] was drawn.
        assert flipped.numpy()[int(y), int(x), 0] == permutation[i] + 1
    again, back = transforms.flip_horizontal(flipped, moved)
    np.testing.assert_array_equal(again.numpy(), image)
    np.testing.assert_allclose(back.numpy(), points)


def test_random_flip_probability_and_determinism():
    image, points = _image(), _points(49, 24, 20)
    flips = []
    for index in range(400):
        seed = transforms.example_seed(1, index)
        out, moved = transforms.random_flip(image, points, seed)
        flipped = not np.array_equal(out.numpy(), image)
        flips.append(flipped)
        expected = flip_landmarks(points, 24) if flipped else points
        np.testing.assert_allclose(moved.numpy(), expected)
    assert 0.43 < np.mean(flips) < 0.57
    never, _ = transforms.random_flip(image, None, transforms.example_seed(1, 0), probability=0)
    np.testing.assert_array_equal(never.numpy(), image)


def test_resize_landmarks_follow_half_pixel_centres():
    image, points = _image(20, 24), np.array([[-0.5, -0.5], [23.5, 19.5], [5.0, 4.0]], np.float32)
    resized, moved = transforms.resize(image, points, (40, 36))
    assert resized.shape == (40, 36, 3) and resized.dtype == tf.float32
    # Image corners (pixel edges) map to the new corners.
    np.testing.assert_allclose(moved.numpy()[:2], [[-0.5, -0.5], [35.5, 39.5]], atol=1e-5)
    np.testing.assert_allclose(moved.numpy()[2], [(5.5) * 1.5 - 0.5, 4.5 * 2 - 0.5], atol=1e-5)
    same, unchanged = transforms.resize(image, points, (20, 24))
    np.testing.assert_array_equal(same.numpy(), image.astype(np.float32))
    np.testing.assert_allclose(unchanged.numpy(), points)


def test_normalize_matches_keras_vgg_and_paper_formulas():
    image = _image(6, 5).astype(np.float32)
    np.testing.assert_allclose(
        transforms.normalize_image(image, "caffe").numpy(),
        keras.applications.vgg16.preprocess_input(image.copy()),
        rtol=1e-6,
        atol=1e-4,
    )
    pattnet = (image / 255.0 - 0.5) / 0.5
    np.testing.assert_allclose(
        transforms.normalize_image(image, "symmetric").numpy(), pattnet, atol=1e-6
    )
    np.testing.assert_allclose(transforms.normalize_image(image, "unit").numpy(), image / 255)
    mean = [120.0, 100.0, 80.0]
    np.testing.assert_allclose(
        transforms.normalize_image(image.astype(np.uint8), "mean", mean).numpy(), image - mean
    )


@pytest.mark.parametrize(
    "name",
    ["crop", "centre_crop", "random_crop", "flip", "random_flip", "resize", "normalize"],
)
def test_eager_equals_dataset_map(name):
    image, points = _image(), _points(49, 24, 20)
    seed = transforms.example_seed(5, 2)
    fns = {
        "crop": lambda i, p, s: transforms.crop(i, p, 2, 3, 16),
        "centre_crop": lambda i, p, s: transforms.centre_crop(i, p, 16),
        "random_crop": lambda i, p, s: transforms.random_crop(i, p, 16, s),
        "flip": lambda i, p, s: transforms.flip_horizontal(i, p),
        "random_flip": lambda i, p, s: transforms.random_flip(i, p, s),
        "resize": lambda i, p, s: transforms.resize(i, p, 30),
        "normalize": lambda i, p, s: (transforms.normalize_image(i, "caffe"), p),
    }
    eager = fns[name](tf.constant(image), tf.constant(points), seed)
    mapped = _in_map(fns[name], image, points, seed)
    for a, b in zip(eager, mapped, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_example_seed_depends_on_seed_and_index():
    seeds = {tuple(transforms.example_seed(s, i).numpy()) for s in range(3) for i in range(3)}
    assert len(seeds) == 9
    a, b = transforms.split_seed(transforms.example_seed(0, 0), 2)
    assert tuple(a.numpy()) != tuple(b.numpy())


def test_errors():
    with pytest.raises(ValueError, match=r"crop size must not exceed the image.*size=30"):
        transforms.crop(_image(), None, 0, 0, 30)
    with pytest.raises(ValueError, match="one image of shape"):
        transforms.centre_crop(np.zeros((2, 20, 20, 3)), None, 10)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        transforms.normalize_image(_image(), "imagenet")
    with pytest.raises(ValueError, match='`mode="mean"` needs `mean`'):
        transforms.normalize_image(_image(), "mean")
    with pytest.raises(ValueError, match="`mean` must hold 3 values"):
        transforms.normalize_image(_image(), "mean", [1.0, 2.0])
    with pytest.raises(ValueError, match="Expected RGB images"):
        transforms.normalize_image(np.zeros((4, 4, 6)), "unit")
    with pytest.raises(ValueError, match="`probability` must be in"):
        transforms.random_flip(_image(), None, transforms.example_seed(0, 0), probability=2)


def test_resize_and_crop_of_images_without_static_size():
    """Decoded JPEG/PNG bytes have no static size: checks and shortcuts run in the graph."""
    image = _image(20, 24)
    encoded = tf.io.encode_png(image)

    def decode_resize(data, size):
        decoded = tf.image.decode_image(data, channels=3, expand_animations=False)
        assert decoded.shape[0] is None
        return transforms.resize(decoded, None, size)[0]

    dataset = tf.data.Dataset.from_tensors(encoded)
    same = next(iter(dataset.map(lambda d: decode_resize(d, (20, 24)))))
    np.testing.assert_array_equal(same.numpy(), image.astype(np.float32))
    other = next(iter(dataset.map(lambda d: decode_resize(d, (10, 12)))))
    np.testing.assert_allclose(
        other.numpy(), tf.image.resize(image.astype(np.float32), (10, 12)).numpy(), atol=1e-4
    )
    too_big = dataset.map(
        lambda d: transforms.centre_crop(tf.image.decode_png(d, channels=3), None, 21)[0]
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="crop size must not exceed"):
        next(iter(too_big))
