"""TFDS dataset builders for BP4D, DISFA and SynthAU, installed as ``tfau.datasets``.

Importing this package registers the builders with TFDS, so ``tfds.load("bp4d", ...)`` works.
"""

from tfau.datasets.bp4d import bp4d_dataset_builder
from tfau.datasets.disfa import disfa_dataset_builder
from tfau.datasets.synth_au import synth_au_dataset_builder
