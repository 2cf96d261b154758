"""Shared fixtures for the layer tests (the shared checks are in layer_harness.py)."""

import keras
import pytest


@pytest.fixture(autouse=True)
def restore_dtype_policy():
    """Puts back the global dtype policy a test may have changed (mixed precision tests)."""
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)
