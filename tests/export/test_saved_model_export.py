"""Tests of tfau.export: SavedModels that serve without tfau, equal to the Keras models.

One tiny model per network family (DRML through ``tfau export``, JAA-Net, PAttNet, E-Net, an
AUNet) is exported once; a single fresh Python process that cannot import tfau loads all of
them and runs both signatures; its outputs are compared here with the Keras models on the
pipeline's own preprocessing (`tfau.data.preprocess_example`) and numpy/OpenCV alignment.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfau.models
from tfau import faces
from tfau.cli.export import resolve_model_name
from tfau.cli.main import main as cli_main
from tfau.data import preprocess_example
from tfau.export import export_model, infer_config
from tfau.layers import _patches
from tfau.model_files import save_trained_model

FACE = 80  # aligned face side of the tiny exports (DRML 74 / JAA-Net 48 crops, 32 resizes)
AUS = [1, 2, 4]
MEAN = [120.0, 100.0, 90.0]
FAMILIES = ["DRML", "JAANet", "PAttNet", "ENet", "AUNet"]

# Runs in a fresh interpreter: tfau is unimportable there (blocked finder, repo off sys.path).
SERVE_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, os, sys

    class _NoTfau(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tfau" or name.startswith("tfau."):
                raise ImportError("tfau is hidden from this process")
            return None

    sys.meta_path.insert(0, _NoTfau())
    repo = os.path.abspath(sys.argv[1])
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != repo]
    import numpy as np
    import tensorflow as tf

    inputs = np.load(sys.argv[2])
    results, specs = {}, {}
    for name in json.loads(sys.argv[3]):
        served = tf.saved_model.load(os.path.join(sys.argv[4], name))
        for signature in ("serving_default", "faces", "frames"):
            fn = served.signatures[signature]
            specs[f"{name}/{signature}"] = {
                "inputs": {k: [str(v.dtype.name), v.shape.as_list()]
                           for k, v in fn.structured_input_signature[1].items()},
                "outputs": {k: [str(v.dtype.name), v.shape.as_list()]
                            for k, v in fn.structured_outputs.items()},
            }
        for batch in (1, 3):
            args = {"images": inputs["faces"][:batch]}
            if f"{name}_landmarks" in inputs:
                args["landmarks"] = inputs[f"{name}_landmarks"][:batch]
            for key, value in served.signatures["faces"](**args).items():
                value = value.numpy()
                # Strings as unicode arrays: the parent loads without pickle.
                results[f"{name}/faces{batch}/{key}"] = (
                    value.astype("U") if value.dtype == object else value
                )
        args = {"images": inputs["frames"], "keypoints": inputs["keypoints"]}
        if f"{name}_landmarks" in inputs:
            args["landmarks"] = inputs["frame_landmarks"]
        for key, value in served.signatures["frames"](**args).items():
            value = value.numpy()
            results[f"{name}/frames/{key}"] = value.astype("U") if value.dtype == object else value
    np.savez(sys.argv[5], **results)
    with open(sys.argv[6], "w") as f:
        json.dump(specs, f)
    assert "tfau" not in sys.modules, sorted(m for m in sys.modules if m.startswith("tfau"))
    print("OK without tfau")
    """
)


def synthetic_frames(rng, count):
    """Smooth random frames (120 x 160) with one face's key points and 49 landmarks each."""
    yy, xx = np.mgrid[0:120, 0:160]
    template = np.array([(70, 50), (90, 50), (80, 65), (72, 76), (88, 76)], np.float64)
    frames, keypoints, landmarks = [], [], []
    for _ in range(count):
        phase = rng.uniform(0, 6, 3)
        frames.append(
            np.stack(
                [
                    127 + 110 * np.sin(xx / 14.0 + phase[0]),
                    127 + 110 * np.cos(yy / 11.0 + phase[1]),
                    127 + 100 * np.sin((xx + yy) / 17.0 + phase[2]),
                ],
                axis=-1,
            ).astype(np.uint8)
        )
        angle = rng.uniform(-0.4, 0.4)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centred = template - template.mean(0)
        shift = template.mean(0) + rng.uniform(-8, 8, 2)
        keypoints.append(centred @ rotation.T * rng.uniform(0.8, 1.2) + shift)
        landmarks.append(rng.uniform(-15, 15, (49, 2)) + shift)
    return np.stack(frames), np.stack(keypoints), np.stack(landmarks)


def keras_reference(model, config, face_images, face_landmarks, mean):
    """The Keras model on the pipeline's test-time preprocessing of each face."""
    batch = {}
    for image, points in zip(face_images, face_landmarks, strict=True):
        example = {
            "image": tf.constant(image),
            "landmarks": tf.constant(points, tf.float32),
            "au": tf.zeros([len(AUS)]),
            "view": tf.constant(0),  # the view classifier's target
            "has_landmarks": tf.constant("landmarks" in config.inputs),
        }
        inputs, _ = preprocess_example(example, config, training=False, mean=mean)
        for name, value in inputs.items():
            batch.setdefault(name, []).append(value.numpy())
    inputs = {name: np.stack(values) for name, values in batch.items()}
    structure = model.input
    if not isinstance(structure, dict):
        inputs = inputs[model.inputs[0].name]
    return {name: np.asarray(value) for name, value in model(inputs, training=False).items()}


def _export_families(root, models, configs):
    """Builds and exports the tiny model of every family into ``root``."""
    for name in FAMILIES:
        kwargs = tfau.models.tiny_kwargs(name)
        if name != "AUNet":
            kwargs["num_aus"] = len(AUS)
        models[name] = tfau.models.get(name)(**kwargs)
        aus = AUS[: models[name].output["au"].shape[-1]]
        if name == "DRML":
            # As training saves it: the .keras file and its model.json say everything.
            model_path = str(root / "drml" / "model.keras")
            save_trained_model(
                models[name], model_path, model_name="DRML", aus=aus, face_size=FACE, mean=MEAN
            )
            code = cli_main(["export", "--model_path", model_path, "--out", str(root / name)])
            assert code == 0
            metadata = json.loads((root / name / "tfau_export.json").read_text())
            assert metadata["model_name"] == "DRML" and metadata["face_size"] == FACE
        else:
            metadata = export_model(
                models[name], root / name, model_name=name, aus=aus, face_size=FACE
            )
        assert metadata["au_names"] == ["AU01", "AU02", "AU04"][: len(aus)]
        configs[name] = infer_config(models[name], name, FACE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports the five tiny models and serves them in one tfau-free subprocess.

    The exports trace the grouped convolutions as a oneDNN (or GPU) process does, as native
    grouped ``Conv2D`` ops, and the subprocess serves them without oneDNN: `tfau demo` trains
    and exports with oneDNN, `tfau predict` may run without it (a graph with a BiasAdd after a
    grouped Conv2D failed there: "Fused conv implementation does not support grouped
    convolutions").
    """
    root = tmp_path_factory.mktemp("exports")
    keras.utils.set_random_seed(7)
    models, configs = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_patches, "_native_grouped_gradients", lambda dtype: True)
        _export_families(root, models, configs)
    rng = np.random.default_rng(0)
    face_images = rng.integers(0, 256, (3, FACE, FACE, 3), dtype=np.uint8)
    face_landmarks = rng.uniform(5, FACE - 5, (3, 49, 2)).astype(np.float32)
    frames, keypoints, frame_landmarks = synthetic_frames(rng, 3)
    arrays = {
        "faces": face_images,
        "frames": frames,
        "keypoints": keypoints.astype(np.float32),
        "frame_landmarks": frame_landmarks.astype(np.float32),
        "ENet_landmarks": face_landmarks,
    }
    np.savez(root / "inputs.npz", **arrays)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.run(
        [
            *(sys.executable, "-c", SERVE_SCRIPT, repo, str(root / "inputs.npz")),
            *(json.dumps(FAMILIES), str(root), str(root / "out.npz"), str(root / "specs.json")),
        ],
        capture_output=True,
        text=True,
        cwd=str(root),
        env=env,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert "OK without tfau" in process.stdout
    aligned = [
        faces.align_face_from_keypoints(frame, points, landmarks, output_size=FACE)
        for frame, points, landmarks in zip(frames, keypoints, frame_landmarks, strict=True)
    ]
    return {
        "models": models,
        "configs": configs,
        "served": dict(np.load(root / "out.npz")),
        "specs": json.loads((root / "specs.json").read_text()),
        "face_images": face_images,
        "face_landmarks": face_landmarks,
        "aligned": aligned,
    }


def landmarks_to_face(points, config):
    """Network-input pixels -> aligned-face pixels (numpy, for the check)."""
    if config.crop:
        source = config.source_size
        return (points + (source - config.input_size) // 2 + 0.5) * FACE / source - 0.5
    return (points + 0.5) * FACE / config.input_size - 0.5


@pytest.mark.parametrize("name", FAMILIES)
def test_faces_signature_equals_keras_for_batch_1_and_3(exported, name):
    model, config, served = exported["models"][name], exported["configs"][name], exported["served"]
    reference = keras_reference(
        model, config, exported["face_images"], exported["face_landmarks"], MEAN
    )
    for batch in (1, 3):
        got = served[f"{name}/faces{batch}/au_probabilities"]
        assert got.shape == (batch, reference["au"].shape[-1]) and got.dtype == np.float32
        np.testing.assert_allclose(got, reference["au"][:batch], rtol=1e-4, atol=1e-5)
        occurrence = served[f"{name}/faces{batch}/au_occurrence"]
        assert occurrence.dtype == np.int32
        np.testing.assert_array_equal(occurrence, (reference["au"][:batch] >= 0.5).astype(int))
        names = served[f"{name}/faces{batch}/au_names"]
        assert names.tolist() == ["AU01", "AU02", "AU04"][: got.shape[-1]]
    for key, value in reference.items():
        if key == "au":
            continue
        got = served[f"{name}/faces3/{key}"]
        expected = landmarks_to_face(value, config) if key == "landmarks" else value
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4, err_msg=key)


@pytest.mark.parametrize("name", FAMILIES)
def test_frames_signature_equals_numpy_alignment_then_keras(exported, name):
    aligned, served = exported["aligned"], exported["served"]
    face_images = np.stack([face.image for face in aligned])
    face_landmarks = np.stack([face.landmarks for face in aligned]).astype(np.float32)
    np.testing.assert_allclose(
        served[f"{name}/frames/alignment_matrices"],
        np.stack([face.matrix for face in aligned]),
        rtol=1e-4,
        atol=1e-3,
    )
    reference = keras_reference(
        exported["models"][name], exported["configs"][name], face_images, face_landmarks, MEAN
    )
    # cv2 interpolates in 1/32-pixel fixed point: some pixels differ by a grey level, which
    # the untrained tiny networks turn into differences of up to ~0.005.
    np.testing.assert_allclose(
        served[f"{name}/frames/au_probabilities"], reference["au"], atol=1e-2
    )
    if "landmarks" in reference:
        inverse = [faces.invert_transform(face.matrix) for face in aligned]
        in_face = served[f"{name}/frames/landmarks"]
        expected = [faces.transform_points(p, m) for p, m in zip(in_face, inverse, strict=True)]
        np.testing.assert_allclose(served[f"{name}/frames/frame_landmarks"], expected, atol=1e-2)


def test_signature_specs(exported):
    specs = exported["specs"]
    assert specs["DRML/serving_default"] == specs["DRML/faces"]
    assert specs["JAANet/faces"]["inputs"] == {"images": ["uint8", [None, FACE, FACE, 3]]}
    assert specs["ENet/faces"]["inputs"] == {
        "images": ["uint8", [None, FACE, FACE, 3]],
        "landmarks": ["float32", [None, 49, 2]],
    }
    assert specs["PAttNet/frames"]["inputs"] == {
        "images": ["uint8", [None, None, None, 3]],
        "keypoints": ["float32", [None, 5, 2]],
    }
    outputs = specs["JAANet/frames"]["outputs"]
    assert outputs["au_probabilities"] == ["float32", [None, 3]]
    assert outputs["au_occurrence"] == ["int32", [None, 3]]
    assert outputs["au_names"] == ["string", [3]]
    assert outputs["landmarks"] == ["float32", [None, 49, 2]]
    assert outputs["alignment_matrices"] == ["float32", [None, 2, 3]]
    assert outputs["attention"][1][-1] == 3
    assert specs["PAttNet/faces"]["outputs"]["patch_attention"] == ["float32", [None, 9]]


def test_bad_arguments_are_named(tmp_path):
    kwargs = tfau.models.tiny_kwargs("DRML")
    model = tfau.models.get("DRML")(**kwargs)
    with pytest.raises(ValueError, match=r"`aus` must name the 3 columns .* Received 2 AUs"):
        export_model(model, tmp_path, model_name="DRML", aus=[1, 2], mean=MEAN)
    with pytest.raises(ValueError, match="subtracts the training mean"):
        export_model(model, tmp_path, model_name="DRML", aus=AUS)
    with pytest.raises(ValueError, match=r"do not match the pipeline of 'ENet'"):
        export_model(model, tmp_path, model_name="ENet", aus=AUS)
    assert not os.listdir(tmp_path)


def moving_faces(count: int, shift: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``count`` smooth random uint8 faces and their previous frames moved by ``shift``."""
    import cv2

    rng = np.random.default_rng(0)
    margin = 8
    frames = []
    for _ in range(count):
        noise = rng.integers(0, 256, (FACE + 2 * margin, FACE + 2 * margin, 3), dtype=np.uint8)
        frames.append(cv2.GaussianBlur(noise, (0, 0), 2.0))
    frames = np.stack(frames)
    dy, dx = shift
    current = frames[:, margin : margin + FACE, margin : margin + FACE]
    previous = frames[:, margin + dy : margin + dy + FACE, margin + dx : margin + dx + FACE]
    return np.ascontiguousarray(current), np.ascontiguousarray(previous)


@pytest.mark.parametrize("name", ["AUNetChannels", "AUNetFlow"])
def test_flow_networks_export_and_serve_as_the_keras_model(tmp_path, name):
    """The export's two graph calls around OpenCV's flow equal the .keras one-graph path."""
    from tfau.export import FLOW_FRAMES_SIGNATURE
    from tfau.inference import from_keras, load_model

    keras.utils.set_random_seed(0)
    model = tfau.models.get(name)(**tfau.models.tiny_kwargs(name))
    metadata = export_model(model, tmp_path, model_name=name, aus=[1], face_size=FACE)
    assert metadata["signatures"] == {
        "faces": ["images", "flow"],
        FLOW_FRAMES_SIGNATURE: ["images", "previous"],
    }
    assert metadata["pipeline"]["flow_preset"] == "medium"
    pairs = tf.saved_model.load(str(tmp_path)).signatures[FLOW_FRAMES_SIGNATURE]
    faces_now, faces_before = moving_faces(3, (2, -3))
    resized = pairs(images=tf.constant(faces_now), previous=tf.constant(faces_before))
    assert resized["images"].dtype == tf.uint8 and resized["images"].shape == (3, 32, 32, 3)

    in_memory = from_keras(model, aus=[1], model_name=name, face_size=FACE)
    served = load_model(tmp_path)
    assert served.needs_flow and served.source == "saved_model"
    expected = in_memory(faces_now, previous=faces_before)["au"]
    got = served(faces_now, previous=faces_before)["au"]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # The flow reaches the network: no motion gives other outputs.
    still = served(faces_now, previous=faces_now)["au"]
    np.testing.assert_allclose(still, in_memory(faces_now, previous=faces_now)["au"], atol=1e-6)
    assert np.abs(still - got).max() > 1e-5
    with pytest.raises(ValueError, match=rf"{name} takes optical flow: pass `previous`"):
        served(faces_now)


def test_view_classifier_round_trip(tmp_path):
    """AUNets' view classifier ("view" output, no "au") through model.json and tfau export."""
    keras.utils.set_random_seed(3)
    model = tfau.models.AUNetsViewClassifier(**tfau.models.tiny_kwargs("AUNetsViewClassifier"))
    model_path = str(tmp_path / "view" / "model.keras")
    save_trained_model(model, model_path, model_name="AUNetsViewClassifier", aus=[], face_size=FACE)
    assert cli_main(["export", "--model_path", model_path, "--out", str(tmp_path / "out")]) == 0
    metadata = json.loads((tmp_path / "out" / "tfau_export.json").read_text())
    assert metadata["model_name"] == "AUNetsViewClassifier" and metadata["aus"] == []
    faces_uint8 = np.random.default_rng(1).integers(0, 256, (2, FACE, FACE, 3), dtype=np.uint8)
    served = tf.saved_model.load(str(tmp_path / "out")).signatures["faces"](images=faces_uint8)
    assert set(served) == {"view"}
    config = infer_config(model, "AUNetsViewClassifier", FACE)
    reference = keras_reference(model, config, faces_uint8, np.zeros((2, 49, 2)), None)
    np.testing.assert_allclose(served["view"].numpy(), reference["view"], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"`aus` must be empty: the model has no 'au' output"):
        export_model(model, tmp_path / "x", model_name="AUNetsViewClassifier", aus=[1])


def test_export_of_a_bare_keras_file_asks_for_the_aus(tmp_path):
    model = tfau.models.get("DRML")(**tfau.models.tiny_kwargs("DRML"))
    model.save(tmp_path / "drml.keras")
    with pytest.raises(SystemExit, match=r"has no model\.json beside it: pass --aus"):
        cli_main(
            ["export", "--model_path", str(tmp_path / "drml.keras"), "--out", str(tmp_path / "x")]
        )
    assert not (tmp_path / "x").exists()
    # The network itself is recognised from the Keras model's name.
    assert resolve_model_name(None, "drml") == "DRML"
    with pytest.raises(SystemExit, match="Cannot tell the network from the model's name 'net'"):
        resolve_model_name(None, "net")
