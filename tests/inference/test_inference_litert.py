"""`tfau predict --model x.tflite`: LiteRT models served like .keras and SavedModel ones."""

import csv
import sys

import numpy as np
import pytest
from inference_test_utils import AUS, MEAN

from tfau.cli.main import main as cli_main
from tfau.export.litert import LiteRTUnavailableError
from tfau.inference import Predictor, load_model


def read_csv(path):
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def drml_tflite(tmp_path_factory, drml_keras):
    path = tmp_path_factory.mktemp("litert") / "drml.tflite"
    code = cli_main(
        [
            *("export", "--model_path", str(drml_keras), "--out", str(path)),
            *("--format", "litert", "--quantize", "none", "--eval_faces", "8"),
            *("--aus", *map(str, AUS), "--mean", *map(str, MEAN)),
        ]
    )
    assert code == 0
    return path


def test_cli_predict_tflite_writes_the_keras_csv(tmp_path, drml_tflite, drml_keras, synth_video):
    common = ["--input", str(synth_video), "--no_progress", "--batch_size", "4"]
    assert (
        cli_main(
            ["predict", "--model", str(drml_tflite), "--out", str(tmp_path / "l.csv"), *common]
        )
        == 0
    )
    keras_args = ["--aus", *map(str, AUS), "--mean", *map(str, MEAN)]
    keras_args += ["--model", str(drml_keras), "--out", str(tmp_path / "k.csv")]
    assert cli_main(["predict", *keras_args, *common]) == 0
    header, rows = read_csv(tmp_path / "l.csv")
    keras_header, keras_rows = read_csv(tmp_path / "k.csv")
    assert header == keras_header and len(rows) == len(keras_rows) > 0
    got = np.array(rows, np.float64)
    expected = np.array(keras_rows, np.float64)
    probabilities = [i for i, name in enumerate(header) if name.endswith("_p")]
    others = [
        i for i in range(len(header)) if i not in probabilities and not header[i].endswith("_c")
    ]
    np.testing.assert_array_equal(got[:, others], expected[:, others])
    # Same network in float32: the CSV's 4 decimals differ by one rounding step at most.
    np.testing.assert_allclose(got[:, probabilities], expected[:, probabilities], atol=1.5e-4)
    assert got[:, probabilities].std() > 0  # not a constant output
    occurrence = [i for i, name in enumerate(header) if name.endswith("_c")]
    np.testing.assert_array_equal(got[:, occurrence], got[:, probabilities] >= 0.5)


def test_load_model_dispatches_tflite(drml_tflite, drml_keras):
    model = load_model(drml_tflite)
    assert (model.source, model.model_name, model.aus) == ("litert", "DRML", tuple(AUS))
    assert model.face_size == 200 and not model.predicts_landmarks
    reference = load_model(drml_keras, aus=AUS, mean=MEAN)
    faces = np.random.default_rng(0).integers(0, 256, (3, 200, 200, 3), dtype=np.uint8)
    np.testing.assert_allclose(model(faces)["au"], reference(faces)["au"], rtol=1e-4, atol=1e-6)
    subset = load_model(drml_tflite, aus=[4, 1], threshold=0.3)
    assert subset.aus == (4, 1) and subset.threshold == 0.3
    np.testing.assert_array_equal(subset(faces)["au"], model(faces)["au"][:, [2, 0]])
    with pytest.raises(ValueError, match=r"trained on other AUs than asked.*not predicted: \[12\]"):
        load_model(drml_tflite, aus=[1, 12])
    with pytest.raises(ValueError, match="Expected uint8 aligned faces of shape"):
        model(faces[:, :100])


def test_missing_sidecar_and_extra(tmp_path, drml_tflite, synth_video, monkeypatch):
    run = ["--input", str(synth_video), "--out", str(tmp_path / "x.csv"), "--no_progress"]
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(drml_tflite.read_bytes())
    with pytest.raises(ValueError, match=r"has no bare\.tflite\.json beside it"):
        load_model(bare)
    with pytest.raises(SystemExit, match=r"tfau predict: .*has no bare\.tflite\.json"):
        cli_main(["predict", "--model", str(bare), *run])
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(LiteRTUnavailableError, match=r'pip install "tfau\[litert\]"'):
        Predictor(drml_tflite)
    with pytest.raises(SystemExit, match=r'tfau predict: .*pip install "tfau\[litert\]"'):
        cli_main(["predict", "--model", str(drml_tflite), *run])
