"""MultiViewPredictor: the view classifier routes the video to its view's AU models."""

import csv

import numpy as np
import pytest
from inference_test_utils import BLANK, NUM_FRAMES

import tfau.models
from tfau.inference import MultiViewPredictor, Predictor, combine_models, from_keras


def tiny(name, **kwargs):
    return tfau.models.get(name)(**{**tfau.models.tiny_kwargs(name), **kwargs})


@pytest.fixture(scope="module")
def ensemble():
    view_net = tiny("AUNetsViewClassifier", num_views=2)
    view_models = {0: [tiny("AUNet"), tiny("AUNet")], 1: [tiny("AUNet"), tiny("AUNet")]}
    return tfau.models.MultiViewEnsemble(view_net, view_models)


def force_view(ensemble, view):
    """Makes the view classifier's logits favour ``view`` for every face."""
    logits = ensemble.view_classifier.get_layer("aunets_view_logits")
    kernel, bias = logits.get_weights()
    bias = np.where(np.arange(len(bias)) == view, 20.0, -20.0).astype(bias.dtype)
    logits.set_weights([np.zeros_like(kernel), bias])


def read_probabilities(path):
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    return rows, np.array([[float(r["AU01_p"]), float(r["AU02_p"])] for r in rows])


@pytest.fixture(scope="module")
def multiview(ensemble):
    return MultiViewPredictor(ensemble, {0: [[1], [2]], 1: [[1], [2]]}, view_frames=4)


@pytest.mark.parametrize("view", [1, 0])
def test_video_goes_to_its_views_models(tmp_path, ensemble, multiview, synth_video, view):
    force_view(ensemble, view)
    result = multiview.predict_video(synth_video, tmp_path / "multiview.csv")
    assert result.view == view and result.view_faces == 4
    assert result.view_probabilities[view] == pytest.approx(1.0)
    rows, probabilities = read_probabilities(tmp_path / "multiview.csv")
    assert len(rows) == NUM_FRAMES
    # The rows are those of the view's models, not the other view's.
    for models, same in ((multiview.models[view], True), (multiview.models[1 - view], False)):
        Predictor(models).predict_video(synth_video, tmp_path / "direct.csv")
        _, direct = read_probabilities(tmp_path / "direct.csv")
        assert np.allclose(probabilities, direct, atol=1e-4) == same


def test_combined_columns(ensemble, multiview):
    faces = np.random.default_rng(1).integers(0, 256, (3, 200, 200, 3), np.uint8)
    combined = multiview.models[1]
    assert combined.aus == (1, 2) and combined.model_name == "AUNet+AUNet"
    models = ensemble.view_models[1]
    single = [from_keras(m, aus=[au]) for m, au in zip(models, [1, 2], strict=True)]
    expected = np.concatenate([model(faces)["au"] for model in single], axis=1)
    np.testing.assert_allclose(combined(faces)["au"], expected, atol=1e-6)


def test_bad_arguments(ensemble, multiview):
    with pytest.raises(ValueError, match=r"`aus` must list the AUs of every view's models"):
        MultiViewPredictor(ensemble, {0: [[1], [2]]})
    with pytest.raises(ValueError, match=r"View 1 has 2 models; `aus\[1\]` lists 1"):
        MultiViewPredictor(ensemble, {0: [[1], [2]], 1: [[1]]})
    with pytest.raises(ValueError, match=r"The models predict an AU twice"):
        combine_models([multiview.models[0]] * 2)


def test_cli_multiview(tmp_path, synth_video, capsys):
    from tfau.cli.main import main as cli_main
    from tfau.model_files import save_trained_model

    view_net = tiny("AUNetsViewClassifier", num_views=2)
    ensemble = tfau.models.MultiViewEnsemble(view_net, {})
    force_view(ensemble, 1)
    view_net.save(tmp_path / "view.keras")
    args = ["predict", "--view_classifier", str(tmp_path / "view.keras")]
    for view in (0, 1):
        path = tmp_path / f"au12_view{view}.keras"
        save_trained_model(tiny("AUNet"), path, model_name="AUNet", aus=[12], face_size=200)
        args += ["--view_model", str(view), str(path)]
    out = tmp_path / "multiview.csv"
    assert cli_main([*args, "--input", str(synth_video), "--out", str(out), "--no_progress"]) == 0
    printed = capsys.readouterr().out
    faces = NUM_FRAMES - len(BLANK)  # every frame with a face (fewer than view_frames=32)
    assert printed.startswith(f"view 1 (probabilities 0.00, 1.00; {faces} faces)")
    assert f"{NUM_FRAMES} frames -> {out} (AUNet, AU12)" in printed
    with open(out, newline="") as file:
        assert next(csv.reader(file))[-2:] == ["AU12_p", "AU12_c"]
    with pytest.raises(SystemExit, match=r"has no model\.json beside it naming its AUs"):
        tiny("AUNet").save(tmp_path / "bare.keras")
        cli_main([*args[:3], "--view_model", "0", str(tmp_path / "bare.keras"), "--input",
                  str(synth_video), "--out", str(out)])  # fmt: skip
