"""Staged training from a config: `run_cv` per fold and `tfau train` run `TrainConfig.stages`."""

import json
import os
import re
import shutil

import keras
import numpy as np
import pytest
from training_test_utils import checkpoint_layers

from tfau.cli.main import main
from tfau.model_files import load_keras_model, read_model_info
from tfau.synth import BP4D_AUS
from tfau.training import TrainConfig, Trainer
from tfau.training.protocol import run_cv


def _jaanet_synth(**changes):
    """The ``jaanet_synth`` experiment (tiny JAANet, its stages) with one step per epoch and
    its first two stages: all modules, then the face alignment module alone."""
    from tfau.cli._configs import resolve_config

    config, _, _ = resolve_config("jaanet_synth")
    assert [s.name for s in config.stages] == ["all_modules", "face_alignment", "au_modules"]
    changes = {"stages": config.to_dict()["stages"][:2], "steps_per_epoch": 1, **changes}
    return config.replace(**changes)


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _model_weights(path):
    """Layer name -> weights of a saved ``.keras`` model."""
    model = keras.saving.load_model(path)
    return {layer.name: [v.numpy() for v in layer.weights] for layer in model.layers}


def _same_weights(a, b):
    return a.keys() == b.keys() and all(_same(a[name], b[name]) for name in a)


def test_run_cv_runs_the_stages_of_the_config_in_the_fold_folder(synth_data_dir, tmp_path):
    from tfau.training.run import module_layers

    config = _jaanet_synth()
    run_dir = str(tmp_path / "cv")
    lines = []
    folds = run_cv(config, run_dir, folds=["part3"], data_dir=synth_data_dir, log=lines.append)
    # Each epoch's progress line names the fold and the stage.
    assert [line.split(": ")[0] for line in lines] == [
        "fold part3 stage 1/2 all_modules epoch 1/1",
        "fold part3 stage 2/2 face_alignment epoch 1/1",
    ]
    assert all(re.search(r"steps \[.*, loss=.*, val_mean_f1=\d\.\d{4}, ", line) for line in lines)
    fold_dir = os.path.join(run_dir, "seed0", "part3")
    assert sorted(os.listdir(fold_dir)) == [
        "1_all_modules",
        "2_face_alignment",
        "config.json",
        "model.json",
        "model.keras",
    ]
    assert sorted(os.listdir(os.path.join(run_dir, "results"))) == [
        "f1_vs_paper.png",
        "per_fold.csv",
        "results.md",
        "summary.csv",
    ]
    # The fold's config keeps the stages; each stage folder's is the single run it was.
    with open(os.path.join(fold_dir, "config.json")) as f:
        assert [s["name"] for s in json.load(f)["stages"]] == ["all_modules", "face_alignment"]
    stage_dirs = [os.path.join(fold_dir, name) for name in ("1_all_modules", "2_face_alignment")]
    for folder, lr, lambda1 in zip(stage_dirs, (0.01, 1e-3), (0.5, 1.0), strict=True):
        with open(os.path.join(folder, "config.json")) as f:
            saved = json.load(f)
        assert saved["stages"] is None and saved["epochs"] == 1
        assert saved["optimizer"]["learning_rate"] == lr
        assert saved["losses"]["landmarks"]["weight"] == lambda1
        assert saved["val_split"] == "part1+part2"
        with open(os.path.join(folder, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
        assert len(records) == 1 and records[0]["val_mean_f1"] is not None
        assert os.path.exists(os.path.join(folder, "best.weights.h5"))

    # The saved model (a JAANet built in the builder's layer order) maps checkpoint slots
    # to layers. The stage that froze all but the alignment module changed only that module.
    saved = keras.saving.load_model(os.path.join(fold_dir, "model.keras"))
    first = checkpoint_layers(saved, stage_dirs[0])
    second = checkpoint_layers(saved, stage_dirs[1])
    align = {layer.name for layer in module_layers(saved, "align") if layer.weights}
    assert "jaanet_align_fc2" in align and "jaanet_au_fc2" in first
    assert {name for name in first if not _same(first[name], second[name])} == align

    # Model selection within the last stage: its one epoch is the 2nd of the fold, and the
    # saved model holds its weights, every layer trainable again.
    (fold,) = folds
    assert fold.fold == "part3" and fold.best_epoch == 1 and fold.num_frames == 6
    with open(os.path.join(run_dir, "protocol.json")) as f:
        assert json.load(f)["runs"][0]["best_epoch"] == 1
    saved_layers = {layer.name: [v.numpy() for v in layer.weights] for layer in saved.layers}
    assert all(_same(saved_layers[name], values) for name, values in second.items())
    assert all(layer.trainable for layer in saved.layers)
    info = read_model_info(os.path.join(fold_dir, "model.keras"))
    assert info.model_name == "JAANet" and info.aus == tuple(BP4D_AUS)


def _drml_staged(tiny_config, tmp_path, stages, name="config.json"):
    """A DRML config file with ``stages``: 1 step of batch 2 per epoch."""
    config = tiny_config.replace(steps_per_epoch=1, batch_size=2, checkpoint_every=100)
    data = {**config.to_dict(), "stages": stages}
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


_DRML_STAGES = [
    {"name": "all", "epochs": 1},
    {"name": "head", "epochs": 2, "trainable": ["fc9", "fc10"], "learning_rate": 0.01},
]


def test_tfau_train_runs_the_stages_of_a_json_config(synth_data_dir, tiny_config, tmp_path):
    import tfau.models

    path = _drml_staged(tiny_config, tmp_path, _DRML_STAGES)
    run_dir = str(tmp_path / "run")
    args = ["train", "--config", path, "--run_dir", run_dir, "--data_dir", synth_data_dir]
    assert main(args) == 0
    assert sorted(os.listdir(run_dir)) == [
        "1_all",
        "2_head",
        "config.json",
        "model.json",
        "model.keras",
    ]
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["stages"][1]["trainable"] == ["fc9", "fc10"]
    stage_dirs = [os.path.join(run_dir, "1_all"), os.path.join(run_dir, "2_head")]
    epochs = []
    for folder in stage_dirs:
        with open(os.path.join(folder, "metrics.jsonl")) as f:
            epochs.append([json.loads(line)["epoch"] for line in f])
    assert epochs == [[0], [0, 1]]
    with open(os.path.join(stage_dirs[1], "config.json")) as f:
        assert json.load(f)["optimizer"]["learning_rate"] == 0.01

    model = tfau.models.DRML(**tiny_config.model_kwargs)
    first = checkpoint_layers(model, stage_dirs[0])
    second = checkpoint_layers(model, stage_dirs[1])
    assert {name for name in first if not _same(first[name], second[name])} == {
        "drml_fc9",
        "drml_fc10",
    }

    # Run again: every stage is finished, so each restores its checkpoint and trains nothing.
    checkpoints = {d: sorted(os.listdir(os.path.join(d, "checkpoints"))) for d in stage_dirs}
    assert main(args) == 0
    assert {d: sorted(os.listdir(os.path.join(d, "checkpoints"))) for d in stage_dirs} == (
        checkpoints
    )
    # The final model is saved with its description, for export and predict.
    model_path = os.path.join(run_dir, "model.keras")
    assert read_model_info(model_path).aus == tuple(BP4D_AUS)
    final = _model_weights(model_path)
    assert all(_same(final[name], values) for name, values in second.items())
    # `tfau evaluate` reads the staged run's model.keras (the run folder has no checkpoint).
    assert main(["evaluate", "--run_dir", run_dir, "--data_dir", synth_data_dir]) == 0
    (evaluation,) = [n for n in os.listdir(run_dir) if n.startswith("eval_")]
    with open(os.path.join(run_dir, evaluation)) as f:
        evaluated = json.load(f)
    assert len(evaluated["f1"]) == len(BP4D_AUS)
    # The same scores as a Trainer of the last stage's config evaluating that model (what
    # `tfau evaluate` built before), which takes DRML's mean from the training split itself.
    last = TrainConfig.load(os.path.join(stage_dirs[1], "config.json"))
    trainer = Trainer(
        last.replace(stages=None),
        model=load_keras_model(model_path),
        data_dir=synth_data_dir,
        run_dir=str(tmp_path / "trainer"),
    )
    assert trainer.mean is not None
    expected = trainer.evaluate(evaluated["split"])
    for key in ("split", "aus", "num_examples"):
        assert evaluated[key] == expected[key]
    for key in ("f1", "accuracy", "auc", "mean_f1"):
        np.testing.assert_allclose(evaluated[key], expected[key], rtol=1e-6)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(os.path.join(run_dir, "config.json"), empty)
    with pytest.raises(FileNotFoundError, match=r"No model\.keras .* and no checkpoint"):
        main(["evaluate", "--run_dir", str(empty), "--data_dir", synth_data_dir])

    # A run stopped after the first epoch of the second stage (its checkpoint at that epoch's
    # end, as a kill then leaves it) resumes in that stage and ends with the same weights.
    resumed = str(tmp_path / "resumed")
    shorter = json.dumps([_DRML_STAGES[0], {**_DRML_STAGES[1], "epochs": 1}])
    base = ["train", "--config", path, "--run_dir", resumed, "--data_dir", synth_data_dir]
    assert main([*base, f"stages={shorter}"]) == 0
    assert not _same_weights(_model_weights(os.path.join(resumed, "model.keras")), final)
    metrics = os.path.join(resumed, "2_head", "metrics.jsonl")
    with open(metrics) as f:
        first_epoch = f.read()
    assert main(base) == 0
    with open(metrics) as f:
        lines = f.read().splitlines(keepends=True)
    # Epoch 0 of the stage was not trained again (its record, timing included, is kept).
    assert lines[0] == first_epoch and json.loads(lines[1])["epoch"] == 1
    assert _same_weights(_model_weights(os.path.join(resumed, "model.keras")), final)


def test_tfau_train_and_cv_name_the_bad_stage(tiny_config, tmp_path):
    bad = [*_DRML_STAGES[:1], {**_DRML_STAGES[1], "epochs": 0}]
    path = _drml_staged(tiny_config, tmp_path, bad)
    with pytest.raises(
        SystemExit,
        match=r"invalid config .*`stages\[1\]` \('head'\): `epochs` must be a positive "
        r"integer\. Received: epochs=0",
    ):
        main(["train", "--config", path, "--run_dir", str(tmp_path / "run")])
    good = _drml_staged(tiny_config, tmp_path, _DRML_STAGES, "good.json")
    with pytest.raises(SystemExit, match=r"bad override: `stages\[0\]` must have the keys name"):
        main(["train", "--config", good, "--run_dir", str(tmp_path / "run"), 'stages=[{"a": 1}]'])
    with pytest.raises(SystemExit, match=r"bad override: `stages` must be None or a non-empty"):
        main(["cv", "--config", "jaanet_synth", "--run_dir", str(tmp_path / "cv"), "stages=[]"])
    # A module the network lacks stops the run before the first stage trains.
    lacking = [*_DRML_STAGES[:1], {"name": "head", "epochs": 1, "trainable": ["align"]}]
    path = _drml_staged(tiny_config, tmp_path, lacking, "lacking.json")
    with pytest.raises(ValueError, match="Module 'align' matches no trainable layer of model"):
        main(["train", "--config", path, "--run_dir", str(tmp_path / "run")])
    assert os.listdir(tmp_path / "run") == ["config.json"]
