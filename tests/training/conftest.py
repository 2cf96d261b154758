"""Shared fixtures of the training tests: a tiny DRML config (the SynthAU build is in
tests/conftest.py)."""

import json

import pytest


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
