"""Helpers shared by the training tests."""

import os

import tensorflow as tf


def checkpoint_layers(model, folder):
    """Layer name -> its weights (BatchNorm statistics included, dropout seed states not) as
    stored in the latest checkpoint of a Trainer folder (``model`` built as the run's model
    was, so that its variables line up with the checkpoint's)."""
    reader = tf.train.load_checkpoint(os.path.join(folder, "checkpoints"))
    index = {id(v): i for i, v in enumerate(model.variables)}
    return {
        layer.name: [
            reader.get_tensor(f"model_variables/{index[id(v)]}/.ATTRIBUTES/VARIABLE_VALUE")
            for v in layer.weights
        ]
        for layer in model.layers
        if layer.weights
    }
