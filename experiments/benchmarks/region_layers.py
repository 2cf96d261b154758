"""Train-step time of the vectorised region layers against a plain conv and a per-patch loop.

Measures one training step (forward, backward, SGD update, inside a ``tf.function``) after a
warm-up, as the median over ``--steps`` steps, for:

- DRML: ``RegionLayer`` (8 x 8 grid) on a 160 x 160 x 32 map, with the gradient into its
  input (in DRML it follows conv1, whose weights need it);
- JAA-Net: ``HierarchicalMultiScaleRegion`` (32 filters, grids 8/4/2) on a 176 x 176 x 3 face
  (the first block of JAA-Net, fed by the image: no input gradient);

each against one plain BatchNorm + ReLU + conv 3x3 of the same width (32 -> 32 channels on the
same map), against the same block with every weight shared (a grid of 1: the same FLOPs
without patches), and against a per-patch Python loop (slices, one BatchNorm/conv per patch,
concatenation), all measured in the same run, interleaved step by step so that load changes
hit every variant alike. Prints a Markdown table.

Usage::

    python experiments/benchmarks/region_layers.py --batch 16 --steps 20
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import tensorflow as tf
from keras import ops

from tfau.layers import HierarchicalMultiScaleRegion, RegionLayer


class LoopPatchConvolution(keras.layers.Layer):
    """Reference-style per-patch loop: slice, own BN -> ReLU -> conv per patch, concatenate."""

    def __init__(self, grid_size: int, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = grid_size
        self.filters = filters

    def build(self, input_shape):
        g = self.grid_size
        ph, pw = input_shape[1] // g, input_shape[2] // g
        patch_shape = (input_shape[0], ph, pw, input_shape[3])
        self.units = []
        for index in range(g * g):
            bn = keras.layers.BatchNormalization(name=f"bn_{index}")
            conv = keras.layers.Conv2D(self.filters, 3, padding="same", name=f"conv_{index}")
            bn.build(patch_shape)
            conv.build(patch_shape)
            self.units.append((bn, conv))

    def call(self, inputs, training=None):
        g = self.grid_size
        ph, pw = inputs.shape[1] // g, inputs.shape[2] // g
        rows = []
        for i in range(g):
            row = []
            for j in range(g):
                bn, conv = self.units[i * g + j]
                patch = inputs[:, i * ph : (i + 1) * ph, j * pw : (j + 1) * pw, :]
                row.append(conv(ops.relu(bn(patch, training=training))))
            rows.append(ops.concatenate(row, axis=2))
        return ops.concatenate(rows, axis=1)


def plain_block(shape: tuple[int, int, int], filters: int) -> keras.Model:
    """One BatchNorm -> ReLU -> conv 3x3 (the baseline the goals are stated against)."""
    inputs = keras.Input(shape)
    x = keras.layers.BatchNormalization()(inputs)
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Conv2D(filters, 3, padding="same")(x)
    return keras.Model(inputs, outputs)


def region_loop(shape: tuple[int, int, int], grid_size: int) -> keras.Model:
    inputs = keras.Input(shape)
    outputs = inputs + LoopPatchConvolution(grid_size, shape[-1])(inputs)
    return keras.Model(inputs, outputs)


def region_shared(shape: tuple[int, int, int]) -> keras.Model:
    """RegionLayer with all weights shared: BN -> ReLU -> conv plus identity, no patches."""
    inputs = keras.Input(shape)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(inputs))
    outputs = inputs + keras.layers.Conv2D(shape[-1], 3, padding="same")(x)
    return keras.Model(inputs, outputs)


def hierarchical(
    shape: tuple[int, int, int], filters: int, grid_sizes: tuple[int, ...], loop: bool
) -> keras.Model:
    """The JAA-Net block written with plain layers: per-patch loops, or shared weights."""
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(filters, 3, padding="same")(inputs)
    levels, level = [], x
    for grid_size, width in zip(
        grid_sizes, (filters // 2, filters // 4, filters // 4), strict=True
    ):
        if loop:
            level = LoopPatchConvolution(grid_size, width)(level)
        else:
            level = keras.layers.ReLU()(keras.layers.BatchNormalization()(level))
            level = keras.layers.Conv2D(width, 3, padding="same")(level)
        levels.append(level)
    x = x + keras.layers.Concatenate()(levels)
    outputs = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    return keras.Model(inputs, outputs)


def layer_model(shape: tuple[int, int, int], layer: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


def make_train_step(model: keras.Model, input_gradient: bool):
    """SGD step; with ``input_gradient`` the gradient also flows into the input, as it does
    when the block follows a layer with weights (DRML's region layer follows conv1)."""
    optimizer = keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)
    optimizer.build(model.trainable_variables)

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x, training=True)
            loss = tf.reduce_mean(tf.square(tf.cast(y, tf.float32)))
        sources = [x, *model.trainable_variables] if input_gradient else model.trainable_variables
        grads = tape.gradient(loss, sources)
        if input_gradient:
            # Consumed so that the input gradient is not pruned from the graph.
            loss += 0.0 * tf.reduce_sum(grads[0])
            grads = grads[1:]
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def time_variants(
    variants: dict, warmup: int, steps: int, input_gradient: bool
) -> dict[str, float]:
    """Median ms per train step of ``{name: (model, input)}``, interleaved step by step."""
    train_steps = {
        name: (make_train_step(model, input_gradient), x) for name, (model, x) in variants.items()
    }
    for step, x in train_steps.values():
        for _ in range(warmup):
            step(x).numpy()
    times = {name: [] for name in variants}
    for _ in range(steps):
        for name, (step, x) in train_steps.items():
            start = time.perf_counter()
            step(x).numpy()
            times[name].append(1000.0 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}


def drml_case(data, skip_loop: bool):
    """DRML: conv1's 160 x 160 x 32 output into the region layer (input gradient needed)."""
    shape = (160, 160, 32)
    variants = {
        "vectorised": (layer_model(shape, RegionLayer(grid_size=8)), data(shape)),
        "plain BN+ReLU+conv": (plain_block(shape, 32), data(shape)),
        "shared weights": (region_shared(shape), data(shape)),
    }
    if not skip_loop:
        variants["per-patch loop"] = (region_loop(shape, 8), data(shape))
    return "DRML RegionLayer, 8x8 grid, 160x160x32 (after conv1)", variants, True


def jaanet_case(data, skip_loop: bool):
    """JAA-Net: the first block on the 176 x 176 x 3 image (no input gradient)."""
    shape = (176, 176, 3)
    variants = {
        "vectorised": (
            layer_model(shape, HierarchicalMultiScaleRegion(32, (8, 4, 2))),
            data(shape),
        ),
        "plain BN+ReLU+conv": (plain_block((176, 176, 32), 32), data((176, 176, 32))),
        "shared weights": (hierarchical(shape, 32, (8, 4, 2), loop=False), data(shape)),
    }
    if not skip_loop:
        variants["per-patch loop"] = (hierarchical(shape, 32, (8, 4, 2), loop=True), data(shape))
    return "JAA-Net HierarchicalMultiScaleRegion, 32 filters, 176x176x3 (image)", variants, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    parser.add_argument(
        "--skip-loop", action="store_true", help="skip the (slow to trace) per-patch loops"
    )
    parser.add_argument(
        "--case", choices=("drml", "jaanet", "all"), default="all", help="which block to time"
    )
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(0)

    def data(shape):
        return tf.random.normal((args.batch, *shape))

    cases = []
    if args.case in ("drml", "all"):
        cases.append(drml_case(data, args.skip_loop))
    if args.case in ("jaanet", "all"):
        cases.append(jaanet_case(data, args.skip_loop))

    print(
        f"batch {args.batch}, median of {args.steps} train steps after {args.warmup} warm-up, "
        f"{args.threads} intra-op threads, TF {tf.__version__}, Keras {keras.__version__}, "
        f"{platform.processor() or platform.machine()}, load average {os.getloadavg()}"
    )
    print()
    print("| block | variant | ms / step | vectorised / variant |")
    print("|---|---|---|---|")
    for title, variants, input_gradient in cases:
        measured = time_variants(variants, args.warmup, args.steps, input_gradient)
        for name, ms in measured.items():
            ratio = measured["vectorised"] / ms
            print(f"| {title} | {name} | {ms:.1f} | {ratio:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
