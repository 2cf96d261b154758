"""tfau.data.pipelines end to end on a tiny synth_au build: what each network consumes."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfau
from tfau import losses
from tfau.data import pipelines, transforms
from tfau.data.patches import crop_patches, template_boxes
from tfau.faces import inter_ocular_distance

#: Pipeline overrides that fit each registered model's tiny version to the 64 px faces.
TINY_PIPELINES = {
    "DRML": {"input_size": 74, "source_size": 84},
    "DRML_ConvNet": {"input_size": 74, "source_size": 84},
    "DRML_LCN": {"input_size": 74, "source_size": 84},
    "JAANet": {"input_size": 48, "source_size": None},
    "FVGG": {"input_size": 32},
    "ENet": {"input_size": 32},
    "EACNet": {"input_size": 32},
    "AUNet": {"input_size": 32},
    "HydraNet": {"input_size": 32},
    "AUNetFlow": {"input_size": 32},
    "AUNetChannels": {"input_size": 32},
    "AUNetHorizontal": {"input_size": 32},
    "AUNetPiConv": {"input_size": 32},
    "AUNetPiFC6": {"input_size": 32},
    "AUNetPiFC7": {"input_size": 32},
    "AUNetsViewClassifier": {"input_size": 32},
    "PAttNet": {"input_size": 64, "patch_size": 40},
    "PAttNet_Softmax": {"input_size": 64, "patch_size": 40},
    "PAttNet_SinglePatch": {"input_size": 64, "patch_size": 40},
    "PAttNet_Holistic": {"input_size": 40},
}
#: One training step is taken for these (the others share their pipeline and fusion code).
TRAINED = ("DRML", "JAANet", "EACNet", "AUNetHorizontal", "AUNetsViewClassifier", "PAttNet")
MEAN = (150.0, 130.0, 110.0)


@pytest.fixture(scope="module")
def train_split(synth_data_dir):
    return pipelines.load_split("synth_au/tiny", "part1+part2", data_dir=synth_data_dir)


def _tiny_model(name):
    return tfau.models.get(name)(**tfau.models.tiny_kwargs(name))


def _num_aus(name):
    """The tiny model's number of AU outputs (None: no AU output)."""
    tiny = tfau.models.tiny_kwargs(name)
    if "num_aus" in tiny:
        return tiny["num_aus"]
    parameter = inspect.signature(tfau.models.get(name)).parameters.get("num_aus")
    return None if parameter is None else parameter.default


def test_every_pipeline_has_a_registered_model_and_back():
    registered = set(tfau.models.list_models())
    assert set(pipelines.list_pipelines()) <= registered
    assert set(TINY_PIPELINES) == set(pipelines.list_pipelines())


@pytest.mark.parametrize("name", sorted(TINY_PIPELINES))
def test_pipeline_output_matches_the_tiny_model_inputs(name, train_split):
    model = _tiny_model(name)
    num_aus = _num_aus(name)
    pipeline = pipelines.get_pipeline(name, **TINY_PIPELINES[name])
    dataset = pipeline(
        train_split,
        training=True,
        batch_size=4,
        seed=0,
        mean=MEAN,
        au_indices=None if num_aus is None else list(range(num_aus)),
    )
    inputs, targets = next(iter(dataset))
    expected = {t.name: tuple(t.shape[1:]) for t in model.inputs}
    assert {k: tuple(v.shape[1:]) for k, v in inputs.items()} == expected
    assert all(v.dtype == tf.float32 and v.shape[0] == 4 for v in inputs.values())
    outputs = model(inputs, training=False)
    for key, value in targets.items():
        assert key in outputs
        if key == "au":
            assert value.shape == outputs["au"].shape and value.dtype == tf.float32
            assert set(np.unique(value.numpy())) <= {-1.0, 0.0, 1.0}
        elif key == "landmarks":
            assert value.shape == outputs["landmarks"].shape
        else:
            assert value.dtype == tf.int32 and value.shape == (4,)


@pytest.mark.parametrize("name", TRAINED)
def test_one_training_step_on_the_tiny_model(name, train_split):
    keras.utils.set_random_seed(0)
    model = _tiny_model(name)
    num_aus = _num_aus(name)
    dataset = pipelines.get_pipeline(name, **TINY_PIPELINES[name])(
        train_split,
        training=True,
        batch_size=4,
        seed=1,
        mean=MEAN,
        au_indices=None if num_aus is None else list(range(num_aus)),
    )
    loss = {
        "au": losses.MultiLabelSigmoidCrossEntropy(),
        "landmarks": losses.AlignmentLoss(),
        "view": keras.losses.SparseCategoricalCrossentropy(),
    }
    _, targets = dataset.element_spec
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss={k: loss[k] for k in targets})
    history = model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_value_ranges_and_geometry(train_split):
    stored = list(train_split.map(lambda ex: ex).as_numpy_iterator())
    decoded = [
        tf.io.decode_jpeg(ex["image"]).numpy().astype(np.float32) for ex in stored
    ]  # reference pixels
    # JAA-Net, test time: centre crop 48 of 64 (offset 8), [-1, 1], landmarks shifted by 8.
    jaanet = pipelines.get_pipeline("JAANet", input_size=48, source_size=None)
    inputs, targets = next(iter(jaanet(train_split, training=False, batch_size=12)))
    np.testing.assert_allclose(
        inputs["image"].numpy(), np.stack(decoded)[:, 8:56, 8:56] / 127.5 - 1, atol=1e-6
    )
    landmarks = np.stack([ex["landmarks"] for ex in stored])
    np.testing.assert_allclose(targets["landmarks"].numpy(), landmarks - 8, atol=1e-5)
    np.testing.assert_allclose(
        inter_ocular_distance(targets["landmarks"].numpy()),
        [ex["interocular_distance"] for ex in stored],
        rtol=1e-4,
    )
    np.testing.assert_array_equal(targets["au"].numpy(), np.stack([ex["au"] for ex in stored]))
    # E-Net: resized to 32, landmarks scaled with half-pixel centres, VGG (Caffe) range.
    enet = pipelines.get_pipeline("ENet", input_size=32)
    inputs, _ = next(iter(enet(train_split, training=False, batch_size=12)))
    np.testing.assert_allclose(
        inputs["landmarks"].numpy(), (landmarks + 0.5) * 0.5 - 0.5, atol=1e-4
    )
    resized = tf.image.resize(np.stack(decoded), (32, 32)).numpy()
    np.testing.assert_allclose(
        inputs["image"].numpy(),
        keras.applications.vgg19.preprocess_input(resized.copy()),
        atol=1e-3,
    )
    # From random weights the VGG networks take [-1, 1] (normalization="symmetric").
    symmetric = pipelines.get_pipeline("ENet", input_size=32, normalization="symmetric")
    inputs, _ = next(iter(symmetric(train_split, training=False, batch_size=12)))
    np.testing.assert_allclose(inputs["image"].numpy(), resized / 127.5 - 1, atol=1e-4)
    # AUNets flow image: a VGG-preprocessed 0-255 image.
    flow = pipelines.get_pipeline("AUNetFlow", input_size=32)
    inputs, _ = next(iter(flow(train_split, training=False, batch_size=12)))
    bgr = inputs["flow"].numpy() + np.array(transforms.VGG_BGR_MEAN)
    assert bgr.min() >= -1e-3 and bgr.max() <= 255 + 1e-3 and bgr.std() > 1
    flow = pipelines.get_pipeline("AUNetFlow", input_size=32, normalization="symmetric")
    symmetric, _ = next(iter(flow(train_split, training=False, batch_size=12)))
    np.testing.assert_allclose(symmetric["flow"].numpy(), bgr[..., ::-1] / 127.5 - 1, atol=1e-4)
    # PAttNet: patches in [-1, 1].
    pattnet = pipelines.get_pipeline("PAttNet", input_size=64, patch_size=40)
    inputs, _ = next(iter(pattnet(train_split, training=False, batch_size=12)))
    assert inputs["patches"].shape == (12, 9, 40, 40, 3)
    assert -1 <= inputs["patches"].numpy().min() and inputs["patches"].numpy().max() <= 1


def _elements(dataset, count=3):
    return [tf.nest.map_structure(lambda t: t.numpy(), e) for e in dataset.take(count)]


def _assert_same(a, b):
    tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def test_same_seed_same_stream_other_seed_other_stream(train_split):
    pipeline = pipelines.get_pipeline("JAANet", input_size=48, source_size=None)

    def epochs(seed):
        dataset = pipeline(train_split, training=True, batch_size=2, seed=seed)
        return [_elements(dataset, 6) for _ in range(2)]

    first, again, other = epochs(3), epochs(3), epochs(4)
    _assert_same(first, again)
    assert not np.array_equal(first[0][0][0]["image"], other[0][0][0]["image"])
    assert not np.array_equal(first[0][0][0]["image"], first[1][0][0]["image"])  # reshuffled


@pytest.mark.parametrize("name", ["JAANet", "AUNetChannels", "PAttNet_SinglePatch"])
@pytest.mark.parametrize("training", [False, True])
def test_pipeline_equals_eager_preprocess_example(name, training, train_split):
    config = pipelines.get_config(name, **TINY_PIPELINES[name])
    dataset = pipelines.make_pipeline(
        train_split, config, training=training, batch_size=1, seed=5, shuffle_buffer=1
    )
    pairs = zip(train_split.take(3), dataset.take(3), strict=True)
    for index, (example, (inputs, targets)) in enumerate(pairs):
        eager = pipelines.preprocess_example(
            example, config, training=training, seed=transforms.example_seed(5, index)
        )
        expected = tf.nest.map_structure(lambda t: t[None].numpy(), eager)
        tf.nest.map_structure(
            lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4),
            expected,
            (inputs, targets),
        )


def test_decoded_tfds_examples_give_the_same_batches(synth_data_dir, train_split):
    import tensorflow_datasets as tfds

    decoded = tfds.load(
        "synth_au/tiny", split="part1+part2", data_dir=synth_data_dir, shuffle_files=False
    )
    pipeline = pipelines.get_pipeline("AUNetPiFC7", input_size=32)
    _assert_same(
        _elements(pipeline(decoded, training=False, batch_size=4)),
        _elements(pipeline(train_split, training=False, batch_size=4)),
    )


def test_patches_fall_back_to_the_template_without_landmarks(train_split):
    example = dict(next(iter(train_split)))
    example["has_landmarks"] = tf.constant(False)
    example["landmarks"] = tf.zeros((49, 2))
    config = pipelines.get_config("PAttNet", input_size=64, patch_size=40)
    inputs, _ = pipelines.preprocess_example(example, config, training=False)
    image = tf.cast(tf.io.decode_jpeg(example["image"]), tf.float32)
    expected = crop_patches(image, template_boxes(64), 40) / 127.5 - 1
    np.testing.assert_allclose(inputs["patches"].numpy(), expected.numpy(), atol=1e-5)


def test_image_mean(train_split):
    images = [tf.io.decode_jpeg(ex["image"]).numpy() for ex in train_split]
    np.testing.assert_allclose(
        pipelines.image_mean(train_split, max_examples=None),
        np.mean([im.reshape(-1, 3).mean(0) for im in images], axis=0),
        rtol=1e-5,
    )


def test_errors(train_split):
    no_pairs = train_split.map(
        lambda ex: {k: v for k, v in ex.items() if k not in ("previous_image", "has_previous")}
    )
    with pytest.raises(ValueError, match="Flow inputs need the previous frame"):
        pipelines.get_pipeline("AUNetFlow")(no_pairs, training=False, batch_size=2)
    with pytest.raises(ValueError, match="subtracts the training images' mean: pass `mean`"):
        pipelines.get_pipeline("DRML")(train_split, training=True, batch_size=2)
    with pytest.raises(KeyError, match="No pipeline for model 'VGG'"):
        pipelines.get_pipeline("VGG")
    with pytest.raises(ValueError, match="`fusion` must be one of"):
        pipelines.aunets_config(fusion="vertical")
    with pytest.raises(ValueError, match=r"`normalization` must be one of .*=.imagenet.$"):
        pipelines.eacnet_config(normalization="imagenet")
    with pytest.raises(ValueError, match="A crop needs `source_size` >= `input_size`"):
        pipelines.jaanet_config(input_size=176, source_size=150)
    with pytest.raises(ValueError, match="`patch_index` must be one of PAttNet's patches"):
        pipelines.pattnet_config(patch_index=9)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        pipelines.get_pipeline("FVGG")(train_split, training=False, batch_size=0)
    too_small = pipelines.get_pipeline("JAANet", source_size=None)
    with pytest.raises(tf.errors.InvalidArgumentError, match="crop size must not exceed the image"):
        next(iter(too_small(train_split, training=True, batch_size=2)))
