"""TFDS dataset builders for BP4D, DISFA and SynthAU, installed as ``tfau.datasets``.

Importing this package registers the builders with TFDS, so ``tfds.load("bp4d", ...)`` works.
"""
