"""Subprocess entry of the distributed and resume tests (not a test module).

Usage: python train_worker.py CONFIG_JSON DATA_DIR OUT_NPZ RUN_DIR[,RUN_DIR...] \
    [--strategies default,mirrored] [--logical_cpus 2]

Logical CPU devices must be configured before TensorFlow initialises, hence a subprocess.
Each strategy trains a fresh run of the same config into its run_dir; the final weights of
run ``i`` are saved as ``w{i}_{j}`` arrays in OUT_NPZ.
"""

import argparse
import json

import numpy as np
import tensorflow as tf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("data_dir")
    parser.add_argument("out")
    parser.add_argument("run_dirs")
    parser.add_argument("--strategies", default="default")
    parser.add_argument("--logical_cpus", type=int, default=1)
    args = parser.parse_args()
    if args.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
    from tfau.training import TrainConfig, Trainer

    with open(args.config) as f:
        config = TrainConfig.from_dict(json.load(f))
    arrays = {}
    for i, (name, run_dir) in enumerate(
        zip(args.strategies.split(","), args.run_dirs.split(","), strict=True)
    ):
        trainer = Trainer(config.replace(strategy=name), data_dir=args.data_dir, run_dir=run_dir)
        trainer.train()
        print("replicas", name, trainer.strategy.num_replicas_in_sync, flush=True)
        for j, weight in enumerate(trainer.model.get_weights()):
            arrays[f"w{i}_{j}"] = weight
    np.savez(args.out, **arrays)


if __name__ == "__main__":
    main()
