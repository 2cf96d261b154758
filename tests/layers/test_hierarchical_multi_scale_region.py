"""Tests for tfau.layers.HierarchicalMultiScaleRegion (JAA-Net's region learning block)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import numpy_conv_same, randomize_weights, run_layer_test

from tfau.layers import HierarchicalMultiScaleRegion, RegionLayer

SHAPE = (16, 16, 3)
FILTERS = 8
GRIDS = (8, 4, 2)


def numpy_batch_norm(x: np.ndarray, bn: keras.layers.BatchNormalization, channels) -> np.ndarray:
    mean, var = bn.moving_mean.numpy()[channels], bn.moving_variance.numpy()[channels]
    scale = bn.gamma.numpy()[channels] / np.sqrt(var + bn.epsilon)
    return (x - mean) * scale + bn.beta.numpy()[channels]


def patch_convolution_reference(x: np.ndarray, unit) -> np.ndarray:
    """Per-patch BN -> ReLU -> conv 3x3 (inference), one patch at a time."""
    g, c_in, c_out = unit.grid_size, x.shape[-1], unit.filters
    ph, pw = x.shape[1] // g, x.shape[2] // g
    kernel, bias = unit.kernel.numpy(), unit.bias.numpy()
    out = np.zeros((*x.shape[:3], c_out))
    for i in range(g):
        for j in range(g):
            cell = i * g + j
            rows, cols = slice(i * ph, (i + 1) * ph), slice(j * pw, (j + 1) * pw)
            h = numpy_batch_norm(
                x[:, rows, cols, :], unit.batch_norm, slice(cell * c_in, (cell + 1) * c_in)
            )
            h = np.maximum(h, 0.0)
            outputs = slice(cell * c_out, (cell + 1) * c_out)
            out[:, rows, cols, :] = numpy_conv_same(h, kernel[..., outputs], bias[outputs])
    return out


def block_reference(x: np.ndarray, block: HierarchicalMultiScaleRegion) -> np.ndarray:
    """JAA-Net Fig. 2(a): conv, three hierarchical patch convs, concat + residual, BN, ReLU."""
    first = numpy_conv_same(x.astype(np.float64), block.conv.kernel.numpy(), 0.0)
    levels, level = [], first
    for unit in block.patch_convolutions:
        level = patch_convolution_reference(level, unit)
        levels.append(level)
    summed = first + np.concatenate(levels, axis=-1)
    return np.maximum(numpy_batch_norm(summed, block.batch_norm, slice(None)), 0.0)


def inputs(batch: int = 2, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, *SHAPE)).astype("float32")


def built_block(**kwargs) -> HierarchicalMultiScaleRegion:
    block = HierarchicalMultiScaleRegion(
        FILTERS, grid_sizes=kwargs.pop("grid_sizes", GRIDS), **kwargs
    )
    block.build((None, *SHAPE))
    randomize_weights(block)
    return block


def test_inference_matches_numpy_reference():
    block = built_block()
    x = inputs()
    np.testing.assert_allclose(block(x, training=False), block_reference(x, block), atol=1e-4)


def test_levels_have_paper_widths_and_grids():
    block = built_block()
    units = block.patch_convolutions
    assert [u.grid_size for u in units] == [8, 4, 2]
    assert [u.filters for u in units] == [4, 2, 2]
    assert [tuple(u.kernel.shape) for u in units] == [
        (3, 3, 8, 64 * 4),
        (3, 3, 4, 16 * 2),
        (3, 3, 2, 4 * 2),
    ]
    assert tuple(block.conv.kernel.shape) == (3, 3, 3, 8)
    assert block.conv.bias is None


@pytest.mark.parametrize("quadrant", [(0, 0), (1, 0), (1, 1)])
def test_perturbing_a_quadrant_changes_only_that_quadrant(quadrant):
    # The 3x3 first conv spreads a change by one pixel: perturb the quadrant's interior only.
    block = built_block()
    x = inputs()
    rows = slice(8 * quadrant[0] + 1, 8 * quadrant[0] + 7)
    cols = slice(8 * quadrant[1] + 1, 8 * quadrant[1] + 7)
    perturbed = x.copy()
    perturbed[:, rows, cols, :] += np.random.default_rng(3).normal(size=(2, 6, 6, 3))
    change = np.abs(block(perturbed, training=False) - block(x, training=False)).max(axis=(0, -1))
    inside = np.zeros(SHAPE[:2], bool)
    inside[8 * quadrant[0] : 8 * quadrant[0] + 8, 8 * quadrant[1] : 8 * quadrant[1] + 8] = True
    assert np.all(change[~inside] == 0.0)
    assert np.count_nonzero(change[inside]) > 0.9 * inside.sum()


@pytest.mark.parametrize("c1", [2, 8])
def test_patch_convolution_parameters_match_jaanet_formula(c1):
    # JAA-Net section 4.3: with C = 4 c1 the patch convolutions hold 4932 c1^2 + 148 c1 kernel
    # and bias parameters (316,832 for 32 filters); DRML's region layer of the same width
    # holds 9216 c1^2 + 256 c1 (591,872).
    block = HierarchicalMultiScaleRegion(4 * c1)
    block.build((None, 176, 176, 3))
    count = sum(
        int(np.prod(u.kernel.shape) + np.prod(u.bias.shape)) for u in block.patch_convolutions
    )
    assert count == 4932 * c1**2 + 148 * c1
    region = RegionLayer(grid_size=8)
    region.build((None, 176, 176, 4 * c1))
    unit = region.patch_convolution
    region_count = int(np.prod(unit.kernel.shape) + np.prod(unit.bias.shape))
    assert region_count == 9216 * c1**2 + 256 * c1
    if c1 == 8:
        assert (count, region_count) == (316_832, 591_872)


def count_ops(grid_sizes) -> int:
    block = HierarchicalMultiScaleRegion(FILTERS, grid_sizes=grid_sizes)
    block.build((None, *SHAPE))

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(block(x, training=True))
        return tape.gradient(loss, block.trainable_variables)

    return len(train_step.get_concrete_function(tf.TensorSpec((2, *SHAPE))).graph.get_operations())


def test_graph_op_count_does_not_grow_with_the_grids():
    # Constant up to the portable gradient's einsum lowering (see test_region_layer.py).
    counts = [count_ops((2, 2, 2)), count_ops((8, 4, 2)), count_ops((8, 8, 8))]
    assert max(counts) - min(counts) <= 4


def test_layer_harness():
    loaded = run_layer_test(
        HierarchicalMultiScaleRegion,
        dict(
            filters=FILTERS,
            grid_sizes=list(GRIDS),
            momentum=0.9,
            epsilon=1e-5,
            bias_initializer="ones",
            kernel_regularizer=keras.regularizers.L2(5e-4),
        ),
        inputs(),
        (2, 16, 16, FILTERS),
        input_shape=SHAPE,
        expected_num_trainable_weights=15,
        expected_num_non_trainable_weights=8,
        mixed_precision_tolerance={"mixed_float16": 3e-3, "mixed_bfloat16": 2e-2},
        xla_gradient_check=True,
        xla_tolerance=1e-3,
    )
    assert (loaded.filters, loaded.grid_sizes, loaded.momentum, loaded.epsilon) == (
        FILTERS,
        GRIDS,
        0.9,
        1e-5,
    )
    assert isinstance(loaded.bias_initializer, keras.initializers.Ones)
    assert loaded.compute_output_shape((None, None, None, 3)) == (None, None, None, FILTERS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": 30}, r"`filters` must be divisible by 4 .* Received: filters=30"),
        ({"filters": 0}, r"`filters` must be a positive integer. Received: filters=0"),
        ({"filters": 8, "grid_sizes": (8, 4)}, r"three positive integers.*grid_sizes=\(8, 4\)"),
        ({"filters": 8, "grid_sizes": (8, 0, 2)}, r"Received: grid_sizes=\(8, 0, 2\)"),
        ({"filters": 8, "grid_sizes": "842"}, r"Received: grid_sizes='842'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalMultiScaleRegion(**kwargs)


def test_every_grid_must_divide_height_and_width():
    block = HierarchicalMultiScaleRegion(8, grid_sizes=(8, 4, 2))
    with pytest.raises(ValueError, match=r"grid_size=8, height=20, width=20"):
        block.build((None, 20, 20, 3))
    block = HierarchicalMultiScaleRegion(8, grid_sizes=(5, 3, 1))
    with pytest.raises(ValueError, match=r"grid_size=3, height=20, width=20"):
        block.build((None, 20, 20, 3))


def test_frozen_block_runs_its_batch_norms_in_inference_mode():
    # Keras' convention (JAA-Net's later stages freeze the region-learning module).
    block = built_block()
    block.trainable = False
    x = inputs()
    moving = [w.numpy() for w in block.non_trainable_weights]
    np.testing.assert_array_equal(block(x, training=True), block(x, training=False))
    for before, after in zip(moving, block.non_trainable_weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
