"""One test per registered network (tiny configuration), walking ``tfau.models.list_models()``:
forward shapes, no NaN, one training step lowers the loss, ``.keras`` round trip with
identical outputs (``safe_mode=True``), SavedModel export and reload."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfau
import tfau.data

MODELS = tfau.models.list_models()
_BUILT: dict[str, keras.Model] = {}


def tiny_model(name):
    """Builds each network once per session (the checks below do not depend on training)."""
    if name not in _BUILT:
        keras.utils.set_random_seed(0)
        _BUILT[name] = tfau.models.get(name)(**tfau.models.tiny_kwargs(name))
    return _BUILT[name]


def feed(model, inputs):
    """The dict of named inputs, or the tensor itself for a model built on a single input."""
    if isinstance(model.input, dict) or len(inputs) > 1:
        return inputs
    return next(iter(inputs.values()))


def as_numpy(outputs):
    return {key: np.asarray(value) for key, value in outputs.items()}


def losses_for(outputs):
    """The loss of each output that has a target (see ``make_targets``)."""
    losses = {}
    for key in outputs:
        if key == "au":
            losses[key] = tfau.losses.WeightedBinaryCrossEntropy()  # masked BCE
        elif key == "landmarks":
            losses[key] = tfau.losses.AlignmentLoss()  # squared error / inter-ocular distance
        elif key == "view":
            losses[key] = keras.losses.CategoricalCrossentropy()
        elif key == "attention" and "attention_initial" in outputs:
            losses[key] = tfau.losses.AttentionRefinementLoss()
    return losses


def test_every_paper_network_is_registered():
    expected = {"DRML", "DRML_ConvNet", "DRML_LCN", "PAttNet", "PAttNet_Softmax"}
    expected |= {"PAttNet_SinglePatch", "PAttNet_Holistic"}
    assert expected <= set(MODELS)
    for name in MODELS:
        assert tfau.models.tiny_kwargs(name), f"{name} declares no tiny_kwargs"


@pytest.mark.parametrize("name", MODELS)
def test_record_matches_the_tiny_model_and_its_pipeline(name):
    record = tfau.models.network(name)
    model = tiny_model(name)
    assert record.name == name and record.builder is tfau.models.get(name)
    assert model.name == record.keras_name
    assert tfau.models.from_keras_name(record.keras_name) is record
    assert {tensor.name for tensor in model.inputs} == set(record.inputs)
    assert record.pipeline in tfau.data.CONFIG_FUNCTIONS, f"{name}: no pipeline"
    assert set(tfau.data.get_config(name).inputs) == set(record.inputs)


def test_register_checks_a_new_network_s_record():
    def MyNet():
        return None

    with pytest.raises(ValueError, match=r"'MyNet': a network .* needs `keras_name` and `inputs`"):
        tfau.models.register(tiny_kwargs={})(MyNet)
    with pytest.raises(ValueError, match=r"Keras name 'drml' is already 'DRML''s"):
        tfau.models.register(keras_name="drml", inputs=("image",))(MyNet)
    with pytest.raises(ValueError, match=r"named 'DRML' is already registered"):
        tfau.models.register("DRML", keras_name="mynet", inputs=("image",))(MyNet)
    assert "MyNet" not in tfau.models.list_models()
    with pytest.raises(KeyError, match=r"Keras model named 'mynet'. Keras names .*: aunet, "):
        tfau.models.from_keras_name("mynet")


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_and_values(name, dummy_inputs):
    model = tiny_model(name)
    assert isinstance(model.output, dict), f"{name}: outputs must be a dict"
    assert model.name == model.name.lower()
    inputs = dummy_inputs(model, batch=2)
    assert set(inputs) == {tensor.name for tensor in model.inputs}
    outputs = as_numpy(model(feed(model, inputs), training=False))
    assert set(outputs) == set(model.output)
    for key, value in outputs.items():
        expected = (2, *model.output[key].shape[1:])
        assert value.shape == expected, f"{name}: output {key!r}"
        assert np.all(np.isfinite(value)), f"{name}: output {key!r} has NaN or inf"
    if "au" in outputs:
        au = outputs["au"]
        assert au.dtype == np.float32 and np.all((au >= 0) & (au <= 1))
    if "landmarks" in outputs:
        assert outputs["landmarks"].shape[1:] == (49, 2)


@pytest.mark.parametrize("name", MODELS)
def test_one_training_step_lowers_the_loss(name, dummy_inputs, dummy_targets):
    keras.utils.set_random_seed(1)
    model = tfau.models.get(name)(**tfau.models.tiny_kwargs(name))
    # Dropout off so that the loss before and after the step is a deterministic function of
    # the weights (BatchNorm still uses batch statistics, as in the training step).
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    inputs = dummy_inputs(model, batch=4, seed=2)
    targets = dummy_targets(model, as_numpy(model(feed(model, inputs), training=False)), seed=3)
    losses = losses_for(model.output)
    assert "au" in losses or "view" in losses, f"{name}: no supervised output"

    def total_loss():
        outputs = model(feed(model, inputs), training=True)
        return sum(float(loss(targets[key], outputs[key])) for key, loss in losses.items())

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss=losses)
    before = total_loss()
    model.train_on_batch(feed(model, inputs), {key: targets[key] for key in losses})
    after = total_loss()
    assert np.isfinite(before) and after < before, f"{name}: loss {before} -> {after}"


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_round_trip(name, tmp_path, dummy_inputs):
    model = tiny_model(name)
    inputs = dummy_inputs(model, batch=2, seed=4)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert restored.name == model.name
    assert [w.shape for w in restored.weights] == [w.shape for w in model.weights]
    expected = as_numpy(model(feed(model, inputs), training=False))
    actual = as_numpy(restored(feed(restored, inputs), training=False))
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_saved_model_export_and_reload(name, tmp_path, dummy_inputs):
    model = tiny_model(name)
    inputs = dummy_inputs(model, batch=2, seed=5)
    path = str(tmp_path / name)
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    serving = reloaded.signatures["serving_default"]
    actual = serving(**{key: tf.constant(value) for key, value in inputs.items()})
    expected = as_numpy(model(feed(model, inputs), training=False))
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(actual[key]), expected[key], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["DRML", "PAttNet", "PAttNet_SinglePatch", "JAANet"])
def test_bn_epsilon_reaches_every_batch_norm_and_survives_a_keras_file(name, tmp_path):
    # PyTorch and Caffe use 1e-5, Keras 1e-3: the authors' weights need their epsilon.
    model = tfau.models.get(name)(**tfau.models.tiny_kwargs(name), bn_epsilon=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    epsilons = [
        layer.epsilon
        for layer in loaded._flatten_layers()
        if isinstance(getattr(layer, "epsilon", None), float)
    ]
    assert epsilons and set(epsilons) == {1e-5}
