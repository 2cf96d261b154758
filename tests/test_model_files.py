"""Trained models on disk: the .keras file and its ModelInfo sidecar."""

import json
import re

import keras
import numpy as np
import pytest

import tfau.models
from tfau.model_files import (
    KerasFileError,
    ModelInfo,
    info_path,
    load_keras_model,
    read_model_info,
    save_trained_model,
)


@pytest.fixture(scope="module")
def tiny_drml():
    return tfau.models.get("DRML")(**{**tfau.models.tiny_kwargs("DRML"), "num_aus": 3})


def test_round_trip_keeps_weights_and_facts(tiny_drml, tmp_path):
    path = tmp_path / "run" / "model.keras"
    written = save_trained_model(
        tiny_drml,
        path,
        model_name="DRML",
        aus=[1, 2, 4],
        face_size=112,
        mean=[120, 100.5, 90],
        pipeline_kwargs={"input_size": 74},
    )
    assert info_path(path) == tmp_path / "run" / "model.json"
    info = read_model_info(path)
    assert (
        info
        == written
        == ModelInfo("DRML", (1, 2, 4), 112, (120.0, 100.5, 90.0), {"input_size": 74})
    )
    loaded = keras.saving.load_model(path)
    for a, b in zip(tiny_drml.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_without_sidecar_there_is_no_info(tmp_path):
    assert read_model_info(tmp_path / "other.keras") is None


def test_a_broken_sidecar_is_named(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"aus": [1]}))
    with pytest.raises(ValueError, match=r"model.json is not a tfau model description"):
        read_model_info(tmp_path / "model.keras")


def test_aus_must_match_the_output(tiny_drml, tmp_path):
    with pytest.raises(ValueError, match=r"must name the 3 columns .* Received 2 AUs: \[1, 2\]"):
        save_trained_model(
            tiny_drml, tmp_path / "m.keras", model_name="DRML", aus=[1, 2], face_size=112
        )
    with pytest.raises(ValueError, match=r"must end in '.keras'"):
        save_trained_model(
            tiny_drml, tmp_path / "m.h5", model_name="DRML", aus=[1, 2, 4], face_size=112
        )
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_truncated_or_corrupt_keras_files_say_so(tiny_drml, tmp_path):
    path = tmp_path / "model.keras"
    save_trained_model(tiny_drml, path, model_name="DRML", aus=[1, 2, 4], face_size=112)
    loaded = load_keras_model(path, compile=False)
    for a, b in zip(tiny_drml.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    data = path.read_bytes()
    # Keras' own message for these is "File not found" although the file exists.
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    message = rf"'{re.escape(str(truncated))}' as a Keras model: not a valid \.keras zip: its "
    with pytest.raises(KerasFileError, match=message + rf"{len(data) // 2} bytes end without"):
        load_keras_model(truncated)
    corrupt = tmp_path / "corrupt.keras"
    flipped = bytearray(data)
    middle = len(data) // 2
    flipped[middle : middle + 64] = bytes(b ^ 0xFF for b in flipped[middle : middle + 64])
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(KerasFileError, match=r"corrupt\.keras' .*: not a valid \.keras zip: "):
        load_keras_model(corrupt)
    with pytest.raises(FileNotFoundError, match=r"No \.keras file at .*missing\.keras"):
        load_keras_model(tmp_path / "missing.keras")


def test_the_command_line_names_a_truncated_model(tiny_drml, tmp_path):
    from tfau.cli.main import main

    path = tmp_path / "model.keras"
    save_trained_model(tiny_drml, path, model_name="DRML", aus=[1, 2, 4], face_size=112)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"model\.keras' as a Keras model: not a valid \.keras"):
        main(["export", "--model_path", str(path), "--out", str(tmp_path / "exported")])
