"""Fixtures shared by every test folder."""

import pytest


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory):
    """``synth_au/tiny`` built into a temporary data_dir: 3 subjects x 1 task x 3 frames x 2
    views, 64 px aligned faces with previous frames, 12 AUs (6 examples per part; about a
    second to build)."""
    import tensorflow_datasets as tfds
    import tfau.datasets  # noqa: F401

    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("synth_au/tiny", data_dir=str(data_dir), num_workers=1).download_and_prepare()
    return str(data_dir)
