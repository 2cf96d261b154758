"""Tests of tfau.export.litert: .tflite files equal to the Keras models, quantisation figures.

Tiny models of the three single-image families (DRML, JAA-Net, PAttNet) are exported as
float32 .tflite files and compared with the Keras model on the pipeline's own preprocessing
(`tfau.data.preprocess_example`); quantised exports are compared with float32 within bounds
derived below, and their sidecar's figures are recomputed here with numpy and scikit-learn.
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
from sklearn.metrics import f1_score

import tfau.models
from tfau.cli.main import main as cli_main
from tfau.data import preprocess_example
from tfau.export import infer_config
from tfau.export.litert import (
    LiteRTRunner,
    LiteRTUnavailableError,
    choose_quantization,
    export_litert,
    format_accuracy,
    metadata_path,
    run_faces,
    synthau_faces,
)

FACE = 80
AUS = [1, 2, 4]
MEAN = [120.0, 100.0, 90.0]
FAMILIES = ["DRML", "JAANet", "PAttNet"]
EVAL_FACES = 16

# Bounds on |p_quantised - p_float32| for the tiny untrained networks. float16 weights carry a
# relative rounding error of at most 2^-11 (4.9e-4); computed in float32, the probabilities
# move by less than that (measured 3.7e-4 on tiny DRML, 5.8e-4 on the full-size JAA-Net):
# 2e-3 leaves room across CPUs. Dynamic-range int8 rounds each output channel's weights to
# 1/254 of its largest one and the activations of each row to 8 bits on the fly: errors of
# about 1% per layer (measured 0.012 tiny DRML, 0.006 tiny JAA-Net, 0.023 full-size JAA-Net,
# all random weights): 0.05, still far below what a wrong network or preprocessing gives.
BOUNDS = {"float16": 2e-3, "int8": 0.05}


def tiny(name):
    kwargs = tfau.models.tiny_kwargs(name)
    kwargs["num_aus"] = len(AUS)
    return tfau.models.get(name)(**kwargs)


def export(model, name, path, **kwargs):
    return export_litert(
        model,
        path,
        model_name=name,
        aus=AUS,
        face_size=FACE,
        mean=MEAN if name == "DRML" else None,
        eval_faces=EVAL_FACES,
        **kwargs,
    )


def keras_reference(model, name, images, landmarks=None):
    """The Keras model on the pipeline's test-time preprocessing of each face."""
    config = infer_config(model, name, FACE)
    if landmarks is None:
        landmarks = np.zeros((len(images), 49, 2), np.float32)
    batch = {}
    for image, points in zip(images, landmarks, strict=True):
        example = {
            "image": tf.constant(image),
            "landmarks": tf.constant(points),
            "au": tf.zeros([len(AUS)]),
            "has_landmarks": tf.constant("landmarks" in config.inputs),
        }
        inputs, _ = preprocess_example(example, config, training=False, mean=MEAN)
        for key, value in inputs.items():
            batch.setdefault(key, []).append(value.numpy())
    inputs = {key: np.stack(values) for key, values in batch.items()}
    if not isinstance(model.input, dict):
        inputs = inputs[model.inputs[0].name]
    outputs = {key: np.asarray(value) for key, value in model(inputs, training=False).items()}
    if "landmarks" in outputs:  # network-input pixels -> aligned-face pixels (centre crop)
        source = config.source_size
        crop = (source - config.input_size) // 2
        outputs["landmarks"] = (outputs["landmarks"] + crop + 0.5) * FACE / source - 0.5
    return outputs


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(11)
    return {name: tiny(name) for name in FAMILIES}


@pytest.fixture(scope="module")
def float32(tmp_path_factory, models):
    root = tmp_path_factory.mktemp("litert")
    paths = {}
    for name in FAMILIES:
        paths[name] = str(root / f"{name}.tflite")
        metadata = export(models[name], name, paths[name], quantize="none")
        assert metadata["quantization"] == "none" and metadata["format"] == "litert"
        assert set(metadata["accuracy"]) == {
            "faces", "description", "threshold", "min_agreement", "float32"
        }  # fmt: skip
    return paths


@pytest.fixture(scope="module")
def eval_faces():
    return synthau_faces(EVAL_FACES, AUS, FACE)


@pytest.mark.parametrize("name", FAMILIES)
def test_float32_equals_keras_for_batch_1_and_5(float32, models, name):
    images = synthau_faces(5, AUS, FACE, seed=3).images
    reference = keras_reference(models[name], name, images)
    runner = LiteRTRunner(float32[name])
    assert runner.input_names == ("images",)
    for batch in (5, 1, 5):  # the batch dimension resized both ways
        got = runner(images=images[:batch])
        np.testing.assert_allclose(
            got["au_probabilities"], reference["au"][:batch], rtol=1e-4, atol=1e-6
        )
        np.testing.assert_array_equal(
            got["au_occurrence"], (got["au_probabilities"] >= 0.5).astype(np.int32)
        )
        assert got["au_names"].tolist() == [b"AU01", b"AU02", b"AU04"]
        for key, value in reference.items():
            if key != "au":
                np.testing.assert_allclose(
                    got[key], value[:batch], rtol=1e-4, atol=1e-5, err_msg=key
                )
    expected = {"DRML": set(), "JAANet": {"landmarks", "attention", "attention_initial"}}
    extra = expected.get(name, {"patch_attention"})
    assert set(runner.output_names) == {"au_probabilities", "au_occurrence", "au_names"} | extra
    # Builtin operators only: no TF (Flex) kernels, no custom ops.
    ops = {op["op_name"] for op in runner.interpreter._get_ops_details()}
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops


def test_landmark_network_takes_the_faces_landmarks(tmp_path):
    from tfau.inference import load_model

    keras.utils.set_random_seed(12)
    model = tiny("ENet")
    path = tmp_path / "enet.tflite"
    export(model, "ENet", path, quantize="none")
    faces = synthau_faces(3, AUS, FACE, seed=4)
    reference = keras_reference(model, "ENet", faces.images, faces.landmarks)
    runner = LiteRTRunner(path)
    assert set(runner.input_names) == {"images", "landmarks"}
    got = runner(images=faces.images, landmarks=faces.landmarks)
    np.testing.assert_allclose(got["au_probabilities"], reference["au"], rtol=1e-4, atol=1e-6)
    # Other landmarks, other attention: the input is used.
    moved = runner(images=faces.images, landmarks=faces.landmarks + 6.0)
    assert np.abs(moved["au_probabilities"] - got["au_probabilities"]).max() > 1e-6
    served = load_model(path)
    assert served.needs_landmarks and served.source == "litert"
    np.testing.assert_allclose(
        served(faces.images, landmarks=faces.landmarks)["au"], got["au_probabilities"]
    )


def test_flow_network_takes_the_flow_of_the_faces_pairs(tmp_path):
    """AUNetChannels (image + flow) as LiteRT: its two signatures around OpenCV's flow equal
    the Keras model on the same face pairs, through `tfau.inference.load_model` too."""
    from tfau.inference import from_keras, load_model

    keras.utils.set_random_seed(13)
    model = tiny("AUNetChannels")
    path = tmp_path / "channels.tflite"
    metadata = export(model, "AUNetChannels", path, quantize="none")
    assert metadata["signatures"] == {
        "faces": ["images", "flow"],
        "flow_frames": ["images", "previous"],
    }
    runner = LiteRTRunner(path)
    assert runner.signatures == ("faces", "flow_frames")
    faces = synthau_faces(4, AUS, FACE, seed=5)
    assert faces.previous.shape == faces.images.shape
    # The first face of a sequence is its own previous frame; the others moved.
    assert np.array_equal(faces.previous[0], faces.images[0])
    assert np.abs(faces.previous[1:].astype(int) - faces.images[1:]).max() > 0
    served = load_model(path)
    assert served.needs_flow and served.source == "litert"
    expected = from_keras(model, aus=AUS, model_name="AUNetChannels", face_size=FACE)(
        faces.images, previous=faces.previous
    )["au"]
    got = served(faces.images, previous=faces.previous)["au"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    still = served(faces.images, previous=faces.images)["au"]
    assert np.abs(still[1:] - got[1:]).max() > 1e-6
    with pytest.raises(ValueError, match=r"no 'frames' signature"):
        runner.run("frames", images=faces.images)


def test_sidecar(float32):
    metadata = json.loads(open(metadata_path(float32["JAANet"])).read())
    assert metadata["model_name"] == "JAANet" and metadata["aus"] == AUS
    assert metadata["au_names"] == ["AU01", "AU02", "AU04"]
    assert metadata["face_size"] == FACE and metadata["threshold"] == 0.5
    assert metadata["signatures"] == {"faces": ["images"]}
    assert metadata["size_bytes"] == os.path.getsize(float32["JAANet"])
    accuracy = metadata["accuracy"]
    assert accuracy["faces"] == EVAL_FACES and "seed 0" in accuracy["description"]
    assert accuracy["float32"]["saved_model_max_abs_diff"] < 1e-5
    assert set(accuracy["float32"]["per_au"]) == {"AU01", "AU02", "AU04"}


def check_figures(figures, reference, quantised, labels):
    """The sidecar's figures of one quantisation, recomputed with numpy and scikit-learn."""
    p_ref, p_new = reference["au_probabilities"], quantised["au_probabilities"]
    agree = (p_ref >= 0.5) == (p_new >= 0.5)
    assert figures["occurrence_agreement"] == pytest.approx(agree.mean())
    assert figures["probability_max_abs_diff"] == pytest.approx(np.abs(p_new - p_ref).max())
    assert figures["probability_mean_abs_diff"] == pytest.approx(np.abs(p_new - p_ref).mean())
    changes = []
    for column, au in enumerate(["AU01", "AU02", "AU04"]):
        f1_ref = f1_score(labels[:, column], p_ref[:, column] >= 0.5, zero_division=0)
        f1_new = f1_score(labels[:, column], p_new[:, column] >= 0.5, zero_division=0)
        per_au = figures["per_au"][au]
        assert per_au["f1"] == pytest.approx(f1_new) and per_au["f1_float32"] == pytest.approx(
            f1_ref
        )
        assert per_au["f1_change"] == pytest.approx(f1_new - f1_ref)
        assert per_au["agreement"] == pytest.approx(agree[:, column].mean())
        changes.append(f1_new - f1_ref)
    assert figures["mean_f1_change"] == pytest.approx(np.mean(changes))
    if "landmarks" in reference:
        diff = np.abs(quantised["landmarks"] - reference["landmarks"]).max()
        assert figures["landmarks_max_abs_diff"] == pytest.approx(diff)


@pytest.mark.parametrize(
    ("name", "quantize", "min_agreement", "expected"),
    [("DRML", "int8", 0.99, "int8"), ("JAANet", "float16", 0.99, "float16")],
)
def test_quantised_export_and_its_accuracy_figures(
    tmp_path, float32, models, eval_faces, name, quantize, min_agreement, expected
):
    path = str(tmp_path / f"{name}_{quantize}.tflite")
    metadata = export(models[name], name, path, quantize=quantize, min_agreement=min_agreement)
    assert metadata["quantization"] == expected and metadata["quantize_requested"] == quantize
    assert {k for k in metadata["accuracy"] if k in ("int8", "float16")} == {expected}
    assert metadata["accuracy"][expected]["latency_ms"] > 0
    assert json.loads(open(metadata_path(path)).read()) == metadata
    size_ratio = os.path.getsize(path) / os.path.getsize(float32[name])
    assert size_ratio < {"int8": 0.45, "float16": 0.6}[expected]
    reference = run_faces(LiteRTRunner(float32[name]), eval_faces.images)
    quantised = run_faces(LiteRTRunner(path), eval_faces.images)
    check_figures(metadata["accuracy"][expected], reference, quantised, eval_faces.labels)
    keras_outputs = keras_reference(models[name], name, eval_faces.images)
    assert np.abs(quantised["au_probabilities"] - keras_outputs["au"]).max() < BOUNDS[expected]
    # Not float32: quantisation changed something.
    assert np.abs(quantised["au_probabilities"] - reference["au_probabilities"]).max() > 1e-7


def test_auto_takes_the_fastest_quantisation_that_agrees_and_beats_float32(tmp_path, models):
    metadata = export(models["DRML"], "DRML", str(tmp_path / "d.tflite"), min_agreement=1.0)
    accuracy = metadata["accuracy"]
    assert metadata["quantize_requested"] == "auto"
    float32_ms = accuracy["float32"]["latency_ms"]
    qualified = {
        name: accuracy[name]["latency_ms"]
        for name in ("int8", "float16")
        if accuracy[name]["occurrence_agreement"] == 1.0
        and accuracy[name]["latency_ms"] <= 0.9 * float32_ms
    }
    expected = min(qualified, key=qualified.get) if qualified else "none"
    assert metadata["quantization"] == expected
    assert (
        os.path.getsize(tmp_path / "d.tflite")
        == accuracy.get(expected, accuracy["float32"])["size_bytes"]
    )
    text = format_accuracy(metadata)
    assert f"Chose {'float32' if expected == 'none' else expected}: " in text
    assert "agreement >= 100% and batch-1 latency <= 0.9 x float32's on this CPU" in text


def test_choose_quantization():
    def accuracy(int8, float16):
        entries = {"float32": {"latency_ms": 100.0}}
        for name, (agreement, ms) in (("int8", int8), ("float16", float16)):
            entries[name] = {"occurrence_agreement": agreement, "latency_ms": ms}
        return entries

    assert choose_quantization(accuracy((0.995, 40.0), (1.0, 80.0))) == "int8"
    assert choose_quantization(accuracy((0.995, 85.0), (1.0, 80.0))) == "float16"
    assert choose_quantization(accuracy((0.98, 40.0), (1.0, 80.0))) == "float16"
    # Not faster than float32 by 10%: float32, however well they agree.
    assert choose_quantization(accuracy((1.0, 95.0), (1.0, 91.0))) == "none"
    assert choose_quantization(accuracy((0.98, 40.0), (0.97, 50.0))) == "none"
    assert choose_quantization(accuracy((0.98, 40.0), (0.97, 50.0)), min_agreement=0.9) == "int8"


def test_runs_with_ai_edge_litert_alone(float32):
    """The file needs neither TensorFlow nor tfau: a process without them serves it."""
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        import numpy as np

        class Hidden(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tfau", "tensorflow", "keras"):
                    raise ImportError(name + " is hidden from this process")

        sys.meta_path.insert(0, Hidden())
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=sys.argv[1], num_threads=2)
        faces = np.load(sys.argv[2])
        out = interpreter.get_signature_runner("faces")(images=faces)
        np.save(sys.argv[3], out["landmarks"])
        print("OK", out["au_names"].tolist())
        """
    )
    folder = os.path.dirname(float32["JAANet"])
    images = synthau_faces(2, AUS, FACE, seed=5).images
    np.save(os.path.join(folder, "faces.npy"), images)
    out = os.path.join(folder, "landmarks.npy")
    process = subprocess.run(
        [sys.executable, "-c", script, float32["JAANet"], os.path.join(folder, "faces.npy"), out],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    assert "OK [b'AU01', b'AU02', b'AU04']" in process.stdout
    expected = LiteRTRunner(float32["JAANet"])(images=images)["landmarks"]
    np.testing.assert_array_equal(np.load(out), expected)


def test_errors(tmp_path, models, float32, monkeypatch):
    view = tfau.models.get("AUNetsViewClassifier")(
        **tfau.models.tiny_kwargs("AUNetsViewClassifier")
    )
    with pytest.raises(ValueError, match=r"no 'au' output \(outputs: \['view'\]\). Export it as"):
        export_litert(view, tmp_path / "v.tflite", model_name="AUNetsViewClassifier", aus=[])
    drml = models["DRML"]
    with pytest.raises(ValueError, match=r"`quantize` must be one of auto, none, int8, float16"):
        export(drml, "DRML", str(tmp_path / "d.tflite"), quantize="int4")
    with pytest.raises(ValueError, match=r"`path` must name a \.tflite file"):
        export(drml, "DRML", str(tmp_path / "d.lite"))
    with pytest.raises(ValueError, match=r"`min_agreement` must be in \[0, 1\]"):
        export(drml, "DRML", str(tmp_path / "d.tflite"), min_agreement=99)
    with pytest.raises(ValueError, match="subtracts the training mean"):
        export_litert(drml, tmp_path / "d.tflite", model_name="DRML", aus=AUS, eval_faces=1)
    assert not os.listdir(tmp_path)

    keras_path = tmp_path / "drml.keras"
    drml.save(keras_path)
    args = ["export", "--model_path", str(keras_path), "--aus", "1", "2", "4"]
    with pytest.raises(SystemExit) as exit_info:  # argparse: exit status 2, choices named
        cli_main([*args, "--out", str(tmp_path / "x.tflite"), "--format", "litert",
                  "--quantize", "int4"])  # fmt: skip
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit, match="--quantize applies to --format litert only"):
        cli_main(
            [*args, "--out", str(tmp_path / "sm"), "--quantize", "int8", "--mean", "1", "2", "3"]
        )
    with pytest.raises(SystemExit, match=r"error: `path` must name a \.tflite file"):
        cli_main(
            [*args, "--out", str(tmp_path / "sm"), "--format", "litert", "--mean", "1", "2", "3"]
        )

    # Without the extra: one message naming it, from the runner and from the export.
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(LiteRTUnavailableError, match=r'pip install "tfau\[litert\]"'):
        LiteRTRunner(float32["DRML"])
    with pytest.raises(SystemExit, match=r'error: .*not installed: pip install "tfau\[litert\]"'):
        cli_main([*args, "--out", str(tmp_path / "x.tflite"), "--format", "litert",
                  "--mean", "1", "2", "3", "--eval_faces", "2"])  # fmt: skip
    assert not (tmp_path / "x.tflite").exists()
