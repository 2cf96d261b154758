"""The checks every layer test starts from, in the spirit of keras-hub's ``run_layer_test``.

``run_layer_test`` builds a layer from its constructor arguments, gives it random weights and
checks, in one call: the config and JSON round trips, the symbolic call against
``compute_output_shape`` and the eager call, a ``.keras`` round trip inside a functional model,
one compiled training step (``train_on_batch``), mixed precision and XLA. A layer's own test
file then adds only what is special to it: numbers against a plain reference, the papers'
sizes, error messages.
"""

import fnmatch
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

MIXED_PRECISION_TOLERANCE = {"mixed_float16": 1e-2, "mixed_bfloat16": 5e-2}


def numpy_conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Stride-1 convolution with zero padding keeping the size (odd kernel)."""
    k = kernel.shape[0]
    pad = k // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    height, width = x.shape[1:3]
    out = np.zeros((*x.shape[:3], kernel.shape[-1]))
    for dy in range(k):
        for dx in range(k):
            window = padded[:, dy : dy + height, dx : dx + width, :]
            out += np.einsum("bhwc,co->bhwo", window, kernel[dy, dx])
    return out + bias


def randomize_weights(layer: keras.layers.Layer, seed: int = 0) -> None:
    """Random weights: gammas and variances uniform in [0.5, 2], the rest normal(0, 0.5).

    Default initialisations (zero biases, identity BatchNorm) hide mistakes a comparison
    should see; positive variances keep BatchNorm defined.
    """
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        name = variable.path.split("/")[-1]
        if "variance" in name or "gamma" in name:
            value = rng.uniform(0.5, 2.0, variable.shape)
        else:
            value = rng.normal(0.0, 0.5, variable.shape)
        variable.assign(value.astype(variable.dtype))


def run_layer_test(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: dict,
    input_data: np.ndarray | list[np.ndarray],
    expected_output_shape: tuple,
    *,
    input_shape: tuple | list[tuple] | None = None,
    expected_num_trainable_weights: int | None = None,
    expected_num_non_trainable_weights: int | None = None,
    run_training_check: bool = True,
    inputs_with_gradient: Sequence[int] = (),
    weights_without_gradient: Sequence[str] = (),
    learning_rate: float = 0.01,
    run_mixed_precision_check: bool = True,
    mixed_precision_tolerance: dict[str, float] | None = None,
    run_xla_check: bool = True,
    xla_gradient_check: bool = False,
    xla_tolerance: float = 1e-5,
    randomize: Callable[[keras.layers.Layer], None] | None = randomize_weights,
) -> keras.layers.Layer:
    """Runs the checks every layer must pass; returns the layer loaded from a ``.keras`` file.

    Args:
        layer_cls: The layer class.
        init_kwargs: Constructor arguments.
        input_data: One input array, or a list of arrays for a layer called on a list.
        expected_output_shape: Shape of the eager output, or a tuple of shapes for a layer
            returning a tuple.
        input_shape: Shapes of the symbolic inputs without the batch axis, `None` for sizes
            left unknown (one tuple, or a list like `input_data`). Defaults to the data's.
        expected_num_trainable_weights: Number of trainable weights once built, if given.
        expected_num_non_trainable_weights: Number of non-trainable weights, if given.
        run_training_check: Whether one compiled training step (`train_on_batch`: MSE to a
            random target, SGD) must change every weight of the layer, give a finite loss and
            lower the training loss.
        inputs_with_gradient: Indices of the inputs the fit step must train through: each gets
            a trainable scale in front of the layer, which must change too (how a layer
            without weights shows that it passes gradients).
        weights_without_gradient: Name patterns (`fnmatch`, e.g. `"bias_*"`) of weights that no
            fit step changes by design (a bias just before a batch normalisation in training
            mode).
        learning_rate: SGD learning rate of the fit step.
        run_mixed_precision_check: Whether the layer built under each policy of
            `mixed_precision_tolerance` keeps float32 weights, returns the compute dtype (the
            symbolic call's dtype) and, with the float32 weights, outputs within
            `tolerance * max|float32 output|` of float32, in inference and training mode.
        mixed_precision_tolerance: Tolerance per policy; defaults to
            `MIXED_PRECISION_TOLERANCE`.
        run_xla_check: Whether the inference call compiled with `jit_compile=True` matches
            eager.
        xla_gradient_check: Whether the compiled call also matches eager in training mode:
            outputs, gradients of their squares with respect to the inputs and the trainable
            weights, updated non-trainable weights (compiling gradients takes seconds).
        xla_tolerance: Relative tolerance of the XLA check, also times each tensor's largest
            magnitude as absolute tolerance (0 asks for identical numbers).
        randomize: Called on the built layer before the checks; `None` keeps the initial
            weights.

    Returns:
        The layer as loaded back from the `.keras` file, for checks special to the layer.
    """
    is_list = isinstance(input_data, list)
    data = [np.asarray(x) for x in (input_data if is_list else [input_data])]
    if input_shape is None:
        shapes = [x.shape[1:] for x in data]
    else:
        shapes = list(input_shape) if is_list else [input_shape]

    def pack(values):
        return list(values) if is_list else values[0]

    def call(layer, values, **kwargs):
        return layer(pack(values), **kwargs)

    # Eager call of the reference layer, with random weights.
    layer = layer_cls(**init_kwargs)
    call(layer, data, training=False)
    if randomize is not None:
        randomize(layer)
    outputs = _numpy(call(layer, data, training=False))
    single_output = len(outputs) == 1
    expected_shapes = [expected_output_shape] if single_output else list(expected_output_shape)
    assert [o.shape for o in outputs] == [tuple(s) for s in expected_shapes], (
        f"Expected output shapes {expected_shapes}, got {[o.shape for o in outputs]}"
    )
    for expected, found in (
        (expected_num_trainable_weights, layer.trainable_weights),
        (expected_num_non_trainable_weights, layer.non_trainable_weights),
    ):
        assert expected is None or len(found) == expected, (
            f"Expected {expected} weights, found {[w.path for w in found]}"
        )
    weights = layer.get_weights()

    # get_config / from_config and JSON round trips: the same config, the same outputs.
    config = layer.get_config()
    missing = sorted(set(init_kwargs) - set(config))
    assert not missing, f"get_config() lacks the constructor arguments {missing}"
    assert layer_cls.from_config(config).get_config() == config
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls
    assert revived.get_config() == config
    call(revived, data, training=False)
    revived.set_weights(weights)
    _assert_close(_numpy(call(revived, data, training=False)), outputs, tolerance=0.0)

    # Symbolic call: compute_output_shape, the symbolic shape and the eager shape agree.
    inputs = [
        keras.Input(shape, dtype=str(x.dtype), name=f"input_{i}")
        for i, (shape, x) in enumerate(zip(shapes, data, strict=True))
    ]
    model_layer = layer_cls(**init_kwargs)
    symbolic = keras.tree.flatten(call(model_layer, inputs))
    symbolic_shapes = [tuple(t.shape) for t in symbolic]
    computed = model_layer.compute_output_shape(pack([(None, *s) for s in shapes]))
    computed = [tuple(computed)] if single_output else [tuple(s) for s in computed]
    assert symbolic_shapes == computed, f"symbolic {symbolic_shapes} != computed {computed}"
    for known, eager in zip(symbolic_shapes, expected_shapes, strict=True):
        assert len(known) == len(eager) and all(
            k is None or k == e for k, e in zip(known, eager, strict=True)
        ), f"symbolic shape {known} does not fit the eager shape {eager}"

    # Functional model: same outputs as the eager layer; identical after a .keras round trip.
    model = keras.Model(pack(inputs), symbolic[0] if single_output else symbolic)
    model_layer.set_weights(weights)
    _assert_close(_numpy(model(pack(data), training=False)), outputs, tolerance=1e-6)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "layer_test.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    loaded_layer = loaded.get_layer(model_layer.name)
    assert type(loaded_layer) is layer_cls
    assert loaded_layer.get_config() == model_layer.get_config()
    _assert_close(
        _numpy(loaded(pack(data), training=False)),
        _numpy(model(pack(data), training=False)),
        tolerance=0.0,
    )

    if run_xla_check:
        _check_xla(layer, data, pack, xla_tolerance, xla_gradient_check)
    if run_mixed_precision_check:
        for policy, tolerance in (mixed_precision_tolerance or MIXED_PRECISION_TOLERANCE).items():
            _check_mixed_precision(
                layer_cls, init_kwargs, layer, data, inputs, pack, policy, tolerance
            )
    if run_training_check:
        _check_fit_step(
            layer_cls,
            init_kwargs,
            weights,
            data,
            inputs,
            pack,
            inputs_with_gradient,
            weights_without_gradient,
            learning_rate,
        )
    return loaded_layer


class _TrainableScale(keras.layers.Layer):
    """Multiplies its input by one trainable scalar (1 at first): shows a gradient passed."""

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones")

    def call(self, x):
        return x * keras.ops.cast(self.scale, x.dtype)


def _check_fit_step(
    layer_cls,
    init_kwargs,
    weights,
    data,
    inputs,
    pack,
    inputs_with_gradient,
    weights_without_gradient,
    learning_rate,
):
    """One compiled SGD step of MSE to a random target in a functional model built anew."""
    scales = {i: _TrainableScale(name=f"scale_{i}") for i in inputs_with_gradient}
    layer = layer_cls(**init_kwargs)
    layer_inputs = [scales[i](x) if i in scales else x for i, x in enumerate(inputs)]
    model = keras.Model(pack(inputs), layer(pack(layer_inputs)))
    layer.set_weights(weights)
    rng = np.random.default_rng(0)
    targets = [rng.normal(size=o.shape).astype("float32") for o in _numpy(model(pack(data)))]
    target = targets[0] if len(targets) == 1 else targets

    def training_loss():
        predictions = _numpy(model(pack(data), training=True))
        return np.mean([np.mean((p - t) ** 2) for p, t in zip(predictions, targets, strict=True)])

    watched = [*layer.weights, *(scale.scale for scale in scales.values())]
    before = [w.numpy().copy() for w in watched]
    loss_before = training_loss()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    # train_on_batch: fit's compiled train step without fit's tf.data adapter (half the time).
    loss = model.train_on_batch(pack(data), target, return_dict=True)["loss"]
    assert np.isfinite(loss), f"fit step loss {loss}"
    unchanged = [
        w.path
        for w, b in zip(watched, before, strict=True)
        if np.allclose(w.numpy(), b)
        and not any(fnmatch.fnmatch(w.name, pattern) for pattern in weights_without_gradient)
    ]
    assert not unchanged, f"One fit step left these weights unchanged: {unchanged}"
    loss_after = training_loss()
    assert loss_after < loss_before, f"training loss {loss_before} -> {loss_after}"


def _check_mixed_precision(layer_cls, init_kwargs, reference, data, inputs, pack, policy, tol):
    """The layer built under `policy` with the reference's weights, against the reference."""
    saved = reference.get_weights()
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(policy)
        layer = layer_cls(**init_kwargs)
        layer(pack(data), training=False)
    finally:
        keras.config.set_dtype_policy(previous)
    assert layer.compute_dtype == keras.DTypePolicy(policy).compute_dtype
    assert all(w.dtype == "float32" for w in layer.weights if "float" in w.dtype)
    layer.set_weights(saved)
    promised = [t.dtype for t in keras.tree.flatten(layer(pack(inputs)))]
    assert set(promised) == {layer.compute_dtype}, f"{policy}: symbolic dtypes {promised}"
    for training in (False, True):
        got = keras.tree.flatten(layer(pack(data), training=training))
        eager = [keras.backend.standardize_dtype(t.dtype) for t in got]
        assert eager == promised, f"{policy}: eager dtypes {eager}, symbolic {promised}"
        want = _numpy(reference(pack(data), training=training))
        for g, w in zip(got, want, strict=True):
            g = np.asarray(tf.cast(g, "float32"))
            assert np.all(np.isfinite(g))
            np.testing.assert_allclose(g, w, atol=tol * np.abs(w).max(), err_msg=policy)
    reference.set_weights(saved)


def _check_xla(layer, data, pack, tolerance, gradients):
    """Eager and `jit_compile=True` runs of one step from the same weights (restored after)."""
    tensors = [tf.constant(x) for x in data]
    saved = layer.get_weights()

    def step(*values):
        inference = layer(pack(list(values)), training=False)
        if not gradients:
            return inference
        with tf.GradientTape() as tape:
            tape.watch(values)
            training = layer(pack(list(values)), training=True)
            outputs = keras.tree.flatten(training)
            loss = tf.add_n([tf.reduce_sum(tf.cast(t, "float32") ** 2) for t in outputs])
        return inference, training, tape.gradient(loss, [*values, *layer.trainable_variables])

    eager = step(*tensors)
    eager_state = [w.numpy() for w in layer.non_trainable_weights]
    layer.set_weights(saved)
    compiled = tf.function(step, jit_compile=True)(*tensors)
    compiled_state = [w.numpy() for w in layer.non_trainable_weights]
    layer.set_weights(saved)
    _assert_close(_numpy(compiled), _numpy(eager), tolerance)
    _assert_close(compiled_state, eager_state, tolerance)


def _numpy(outputs) -> list[np.ndarray]:
    return [np.asarray(t) for t in keras.tree.flatten(outputs)]


def _assert_close(got: list, want: list, tolerance: float) -> None:
    """Equal arrays up to `tolerance` relative to each value and to each array's magnitude."""
    for g, w in zip(got, want, strict=True):
        if tolerance == 0.0:
            np.testing.assert_array_equal(g, w)
        else:
            scale = np.abs(w).max() if w.size else 0.0
            np.testing.assert_allclose(g, w, rtol=tolerance, atol=tolerance * scale)
