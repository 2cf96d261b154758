"""Packaging for tfau.

The TFDS builders live in the top-level ``datasets/`` folder (the layout TFDS expects) but are
installed as ``tfau.datasets``: a top-level package named ``datasets`` would shadow Hugging
Face's. The experiment configs in ``experiments/`` are installed as ``tfau.experiments`` the same
way (their benchmark scripts are not). Everything else is declared in setup.cfg.
"""

from setuptools import find_packages, setup

builder_packages = ["tfau.datasets"] + [
    f"tfau.datasets.{name}" for name in find_packages(where="datasets")
]

setup(
    packages=find_packages(include=["tfau", "tfau.*"]) + builder_packages + ["tfau.experiments"],
    package_dir={"tfau.datasets": "datasets", "tfau.experiments": "experiments"},
)
