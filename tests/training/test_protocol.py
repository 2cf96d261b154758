"""The 3-fold subject-exclusive protocol: folds, validation subjects, a short CV on SynthAU."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfau.model_files import read_model_info
from tfau.synth import BP4D_AUS
from tfau.training.paper_results import paper_result
from tfau.training.protocol import dataset_parts, fit_fold, make_folds, run_cv
from tfau.training.run_data import RunData, filter_subjects

BP4D_PARTS = {
    "part1": "F001 F002 F008 F009 F010 F016 F018 F023 M001 M004 M007 M008 M012 M014".split(),
    "part2": "F003 F005 F011 F013 F020 F022 M002 M005 M010 M011 M013 M016 M017 M018".split(),
    "part3": "F004 F006 F007 F012 F014 F015 F017 F019 F021 M003 M006 M009 M015".split(),
}


def test_folds_are_named_by_test_part_and_validate_on_training_subjects_only():
    folds = make_folds(BP4D_PARTS, validation_fraction=0.2, seed=0)
    assert [f.name for f in folds] == ["part1", "part2", "part3"]
    assert [f.train_split for f in folds] == ["part2+part3", "part1+part3", "part1+part2"]
    for fold in folds:
        test = set(BP4D_PARTS[fold.name])
        training = set().union(*(BP4D_PARTS[p] for p in fold.train_split.split("+")))
        assert not test & set(fold.validation_subjects)
        assert set(fold.validation_subjects) | set(fold.train_subjects) == training
        assert not set(fold.validation_subjects) & set(fold.train_subjects)
    # round(0.2 * 14) + round(0.2 * 13) = 3 + 3 held out of parts 1 and 3.
    assert len(folds[1].validation_subjects) == 6
    assert len(folds[2].validation_subjects) == 6


def test_validation_subjects_are_deterministic_per_seed():
    a = make_folds(BP4D_PARTS, 0.2, seed=0)
    assert a == make_folds(BP4D_PARTS, 0.2, seed=0)
    b = make_folds(BP4D_PARTS, 0.2, seed=1)
    assert [f.validation_subjects for f in a] != [f.validation_subjects for f in b]
    assert make_folds(BP4D_PARTS, 0.0)[0].validation_subjects == ()


def test_small_datasets_hold_out_one_subject_and_refuse_to_hold_out_all():
    parts = {"part1": ["F001"], "part2": ["F003"], "part3": ["F004"]}
    fold = make_folds(parts, 0.2, folds=["part3"])[0]
    assert len(fold.validation_subjects) == 1 and len(fold.train_subjects) == 1
    with pytest.raises(ValueError, match="leaves no training subject"):
        make_folds({"part1": ["A"], "part2": ["B"]}, 0.6)
    with pytest.raises(ValueError, match=r"Unknown folds \['part4'\]"):
        make_folds(parts, folds=["part4"])
    with pytest.raises(ValueError, match=r"`validation_fraction` must be in \[0, 1\)"):
        make_folds(parts, 1.0)


def _examples():
    subjects = ["F001", "F003", "F001", "F004", "F003"]
    return tf.data.Dataset.from_tensor_slices(
        {"subject": subjects, "x": np.arange(5, dtype=np.int64)}
    )


def test_filter_subjects():
    kept = [int(e["x"]) for e in filter_subjects(_examples(), ["F001", "F004"])]
    assert kept == [0, 2, 3]
    with pytest.raises(ValueError, match="at least one subject"):
        filter_subjects(_examples(), [])


def test_run_data_keeps_each_side_to_its_subjects(synth_data_dir):
    data = RunData.from_splits(
        "synth_au/tiny",
        "part1+part2",
        "part1+part2",
        data_dir=synth_data_dir,
        train_subjects=["F001"],
        validation_subjects=["F003"],
    )
    assert {e["subject"].numpy().decode() for e in data.train} == {"F001"}
    assert {e["subject"].numpy().decode() for e in data.validation} == {"F003"}
    assert data.num_train == 6 and data.labels.shape == (6, data.num_aus)
    with pytest.raises(ValueError, match=r"In both: \['F001'\]"):
        RunData.from_splits(
            "synth_au/tiny",
            "part1",
            "part1",
            data_dir=synth_data_dir,
            train_subjects=["F001"],
            validation_subjects=["F001"],
        )


def test_no_statistic_of_a_validation_subject_reaches_training(
    synth_data_dir, tiny_config, tmp_path
):
    # DRML subtracts the training faces' mean: the fold's model.json must hold the mean of
    # its training subjects, not of the training parts with the validation subject in them.
    import tfau.data

    parts = dataset_parts("synth_au/tiny", synth_data_dir)
    (fold,) = make_folds(parts, validation_fraction=0.5, seed=0, folds=["part3"])
    assert fold.validation_subjects and fold.train_subjects
    config = tiny_config.replace(epochs=1, steps_per_epoch=1, batch_size=2)
    fit_fold(config, fold, 0, str(tmp_path / "fold"), data_dir=synth_data_dir, verbose=0)
    mean = read_model_info(tmp_path / "fold" / "model.keras").mean
    whole = tfau.data.load_split("synth_au/tiny", fold.train_split, synth_data_dir)
    expected = tfau.data.image_mean(filter_subjects(whole, fold.train_subjects))
    np.testing.assert_allclose(mean, expected, rtol=1e-6)
    assert not np.allclose(mean, tfau.data.image_mean(whole), atol=0.5)


def test_short_cv_on_synth_writes_complete_results_folder(synth_data_dir, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=1, steps_per_epoch=1, batch_size=2, checkpoint_every=1)
    run_dir = str(tmp_path / "cv")
    folds = run_cv(
        config, run_dir, data_dir=synth_data_dir, paper=paper_result("drml", "bp4d"), log=print
    )
    assert [f.fold for f in folds] == ["part1", "part2", "part3"]
    assert all(f.num_frames == 6 and f.best_epoch == 0 for f in folds)
    results = os.path.join(run_dir, "results")
    assert sorted(os.listdir(results)) == [
        "f1_vs_paper.png",
        "per_fold.csv",
        "results.md",
        "summary.csv",
    ]
    with open(os.path.join(results, "per_fold.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and {r["fold"] for r in rows} == {"part1", "part2", "part3"}
    with open(os.path.join(results, "summary.csv")) as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 13 and summary[-1]["au"] == "mean"
    assert float(summary[0]["paper_f1"]) == 36.4
    np.testing.assert_allclose(
        float(summary[-1]["f1_mean"]), np.mean([f.f1.mean() for f in folds]), atol=1e-3
    )
    text = open(os.path.join(results, "results.md")).read()
    for part in ("part1", "part2", "part3"):
        assert f"| seed 0 / {part} |" in text
    assert "| AU24 |" in text and "| paper |" in text
    protocol = json.load(open(os.path.join(run_dir, "protocol.json")))
    tiny_parts = {"part1": "F001", "part2": "F003", "part3": "F004"}
    for run in protocol["runs"]:
        # One of the two training subjects validates; the test subject never does.
        assert len(run["validation_subjects"]) == 1 and len(run["train_subjects"]) == 1
        assert tiny_parts[run["name"]] not in run["validation_subjects"] + run["train_subjects"]
    assert os.path.exists(os.path.join(run_dir, "seed0", "part2", "best.weights.h5"))
    # Each fold saves its chosen model with what export and inference need.
    model_path = os.path.join(run_dir, "seed0", "part2", "model.keras")
    info = read_model_info(model_path)
    assert info.model_name == config.model and info.aus == tuple(BP4D_AUS)
    assert info.face_size == 64 and info.mean is not None and len(info.mean) == 3
    assert keras.saving.load_model(model_path).output["au"].shape[-1] == len(BP4D_AUS)
