"""Packaging for tfau.

The TFDS builders live in the top-level ``datasets/`` folder (the layout TFDS expects) but are
installed as ``tfau.datasets``: a top-level package named ``datasets`` would shadow Hugging
Face's. Everything else is declared in setup.cfg.
"""

from setuptools import find_packages, setup

builder_packages = ["tfau.datasets"] + [
    f"tfau.datasets.{name}" for name in find_packages(where="datasets")
]

setup(
    packages=find_packages(include=["tfau", "tfau.*"]) + builder_packages,
    package_dir={"tfau.datasets": "datasets"},
)
