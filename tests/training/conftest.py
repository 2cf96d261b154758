"""Shared fixtures of the training tests: a tiny SynthAU build and a tiny DRML config."""

import json

import pytest


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory):
    """``synth_au/tiny`` in a temporary data_dir (6 examples per part, 12 AUs)."""
    import tensorflow_datasets as tfds
    import tfau.datasets  # noqa: F401

    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("synth_au/tiny", data_dir=str(data_dir), num_workers=1).download_and_prepare()
    return str(data_dir)


@pytest.fixture
def tiny_config():
    """The built-in ``synth_drml_tiny`` config: DRML at 74 px, batch 4, 3 steps per epoch."""
    from tfau.training import get_config

    return get_config("synth_drml_tiny")


def write_config(config, path):
    """Writes ``config`` as JSON and returns the path as a string."""
    with open(path, "w") as f:
        json.dump(config.to_dict(), f)
    return str(path)
