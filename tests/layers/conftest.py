"""Shared fixtures for the layer tests."""

import keras
import pytest


@pytest.fixture(autouse=True)
def restore_dtype_policy():
    """Puts back the global dtype policy a test may have changed (mixed precision tests)."""
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


@pytest.fixture
def keras_round_trip(tmp_path):
    """Saves a model to a ``.keras`` file and loads it back with ``safe_mode=True``."""

    def round_trip(model: keras.Model) -> keras.Model:
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        return keras.saving.load_model(path, safe_mode=True)

    return round_trip
