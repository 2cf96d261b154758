"""run_layer_test itself: it passes a correct layer and names the check a broken one fails."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

INPUTS = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")


@keras.saving.register_keras_serializable(package="tfau_tests")
class Projection(keras.layers.Layer):
    """A dense projection of the last axis, written as a tfau layer is."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units))

    def call(self, inputs):
        return inputs @ self.kernel

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tfau_tests")
class ConfigWithoutUnits(Projection):
    def get_config(self):
        return keras.layers.Layer.get_config(self)


@keras.saving.register_keras_serializable(package="tfau_tests")
class WrongOutputShape(Projection):
    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)


@keras.saving.register_keras_serializable(package="tfau_tests")
class UnusedWeight(Projection):
    def build(self, input_shape):
        super().build(input_shape)
        self.unused = self.add_weight(name="unused", shape=(2,))


@keras.saving.register_keras_serializable(package="tfau_tests")
class Float32Output(Projection):
    def call(self, inputs):
        return keras.ops.cast(inputs @ self.kernel, "float32")


def test_a_correct_layer_passes():
    loaded = run_layer_test(Projection, dict(units=2), INPUTS, (2, 4, 2), input_shape=(None, 3))
    assert loaded.units == 2


@pytest.mark.parametrize(
    ("layer_cls", "checks", "message"),
    [
        (ConfigWithoutUnits, {}, r"get_config\(\) lacks the constructor arguments \['units'\]"),
        (
            WrongOutputShape,
            {},
            r"symbolic shape \(None, 2\) does not fit the eager shape \(2, 4, 2\)",
        ),
        (
            UnusedWeight,
            dict(run_xla_check=False, run_mixed_precision_check=False),
            r"left these weights unchanged: \['unused_weight\w*/unused'\]",
        ),
        (
            Float32Output,
            dict(run_xla_check=False, run_training_check=False),
            r"mixed_float16: eager dtypes \['float32'\], symbolic \['float16'\]",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:Gradients do not exist for variables")  # UnusedWeight's
def test_a_broken_layer_fails_the_right_check(layer_cls, checks, message):
    with pytest.raises(AssertionError, match=message):
        run_layer_test(layer_cls, dict(units=2), INPUTS, (2, 4, 2), input_shape=(None, 3), **checks)
