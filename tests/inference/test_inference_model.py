"""AU models for inference: .keras and SavedModel agree; AU lists; bad model files."""

import shutil
import zipfile

import numpy as np
import pytest
from inference_test_utils import AUS, MEAN, tiny_model

from tfau.aus import BP4D_AUS
from tfau.inference import from_keras, load_model


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).integers(0, 256, (5, 200, 200, 3), dtype=np.uint8)


def test_keras_and_saved_model_give_the_same_probabilities(drml_keras, drml_saved_model, faces):
    from_file = load_model(drml_keras, aus=AUS, mean=MEAN)
    exported = load_model(drml_saved_model)
    assert from_file.source == "keras" and exported.source == "saved_model"
    assert from_file.aus == exported.aus == tuple(AUS)
    assert from_file.model_name == exported.model_name == "DRML"
    keras_p = from_file(faces)["au"]
    saved_p = exported(faces)["au"]
    assert keras_p.shape == (5, 3)
    np.testing.assert_allclose(keras_p, saved_p, atol=1e-5)
    # Batch size does not change the result (one traced function for every batch size).
    np.testing.assert_allclose(from_file(faces[:2])["au"], keras_p[:2], atol=1e-5)


def test_keras_with_its_training_sidecar(tmp_path, drml_model, drml_keras, faces):
    from tfau.model_files import save_trained_model

    path = tmp_path / "run" / "model.keras"
    save_trained_model(drml_model, path, model_name="DRML", aus=AUS, face_size=200, mean=MEAN)
    described = load_model(path)  # name, AUs and mean from model.json
    assert described.aus == tuple(AUS) and described.model_name == "DRML"
    bare = load_model(drml_keras, aus=AUS, mean=MEAN)
    np.testing.assert_allclose(described(faces)["au"], bare(faces)["au"], atol=1e-6)
    assert load_model(path, aus=[4]).au_names == ["AU04"]
    with pytest.raises(ValueError, match=r"not predicted: \[12\]"):
        load_model(path, aus=[1, 12])


def test_saved_model_au_subset(drml_saved_model, faces):
    full = load_model(drml_saved_model)(faces)["au"]
    subset = load_model(drml_saved_model, aus=[4, 1])
    assert subset.au_names == ["AU04", "AU01"]
    np.testing.assert_allclose(subset(faces)["au"], full[:, [2, 0]], atol=1e-6)


def test_jaanet_returns_landmarks_in_face_pixels(faces, jaanet):
    model = jaanet
    assert model.aus == BP4D_AUS  # BP4D's by width
    assert model.predicts_landmarks
    out = model(faces[:2])
    assert out["au"].shape == (2, 12) and out["landmarks"].shape == (2, 49, 2)


def test_au_mismatch_errors(drml_keras, drml_saved_model):
    with pytest.raises(ValueError, match=r"trained on other AUs than asked: it predicts 3 AUs, "):
        load_model(drml_keras, aus=[1, 2, 4, 6], mean=MEAN)
    with pytest.raises(ValueError, match=r"predicts 3 AUs and a \.keras file does not name them"):
        load_model(drml_keras, mean=MEAN)
    with pytest.raises(
        ValueError, match=r"predicts AUs \[1, 2, 4\], asked for \[1, 12\]; not predicted: \[12\]"
    ):
        load_model(drml_saved_model, aus=[1, 12])


def test_bad_model_files(tmp_path, drml_keras, drml_saved_model):
    with pytest.raises(FileNotFoundError, match=r"No model at .*missing\.keras"):
        load_model(tmp_path / "missing.keras")
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match=r"Expected a \.keras file, a SavedModel folder or a "):
        load_model(text)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(drml_keras.read_bytes()[:2000])
    with pytest.raises(ValueError, match=r"broken\.keras' as a Keras model: not a valid \.keras"):
        load_model(broken)
    not_a_model = tmp_path / "other.keras"
    with zipfile.ZipFile(not_a_model, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    with pytest.raises(ValueError, match=r"Cannot load .*other\.keras.* as a Keras model saved"):
        load_model(not_a_model)
    with pytest.raises(ValueError, match=r"a folder without saved_model\.pb"):
        load_model(tmp_path)
    unmarked = tmp_path / "unmarked"
    shutil.copytree(drml_saved_model, unmarked)
    (unmarked / "tfau_export.json").unlink()
    with pytest.raises(ValueError, match=r"has no tfau_export\.json: it was not written by"):
        load_model(unmarked)
    with pytest.raises(ValueError, match=r"DRML subtracts the training mean: pass `mean`"):
        load_model(drml_keras, aus=AUS)
    with pytest.raises(ValueError, match=r"`model_name` must be one of"):
        load_model(drml_keras, aus=AUS, mean=MEAN, model_name="Nope")


def test_landmark_networks_take_landmarks_in_keras_and_saved_model(tmp_path, faces):
    import keras

    from tfau.export import export_model

    keras.utils.set_random_seed(0)  # fixed weights: a random tiny VGG may saturate
    keras_model = tiny_model("ENet")
    export_model(
        keras_model, tmp_path / "enet", model_name="ENet", aus=AUS, normalization="symmetric"
    )
    in_memory = from_keras(keras_model, aus=AUS, normalization="symmetric")
    exported = load_model(tmp_path / "enet")
    assert in_memory.needs_landmarks and exported.needs_landmarks
    assert not in_memory.needs_flow and not exported.needs_flow
    rng = np.random.default_rng(1)
    landmarks = (rng.uniform(60, 140, (5, 49, 2))).astype(np.float32)
    keras_p = in_memory(faces, landmarks=landmarks)["au"]
    np.testing.assert_allclose(exported(faces, landmarks=landmarks)["au"], keras_p, atol=1e-5)
    # The landmarks reach the network: other landmarks, other probabilities.
    assert np.abs(in_memory(faces, landmarks=landmarks + 20)["au"] - keras_p).max() > 1e-3
    for model in (in_memory, exported):
        with pytest.raises(ValueError, match=r"ENet takes each face's 49 landmarks: pass"):
            model(faces)
        with pytest.raises(ValueError, match=r"Expected landmarks of shape \(5, 49, 2\)"):
            model(faces, landmarks=landmarks[:, :5])


def test_flow_networks_take_the_previous_faces(faces):
    import keras

    keras.utils.set_random_seed(0)
    model = from_keras(tiny_model("AUNetChannels"), aus=AUS, normalization="symmetric")
    assert model.needs_flow and not model.needs_landmarks and model.model_name == "AUNetChannels"
    still = model(faces, previous=faces)["au"]
    moved = model(faces, previous=np.roll(faces, 3, axis=2))["au"]
    assert still.shape == (5, 3) and np.abs(still - moved).max() > 1e-4
    with pytest.raises(ValueError, match=r"AUNetChannels takes optical flow: pass `previous`"):
        model(faces)
    with pytest.raises(ValueError, match=r"Expected uint8 previous faces of shape"):
        model(faces, previous=faces[:2])
