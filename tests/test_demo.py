"""``tfau demo`` end to end at the tiny SynthAU size (the README main command, scaled down)."""

import json

import pytest

from tfau.cli.main import main as cli_main


@pytest.mark.slow
def test_demo_runs_every_step_and_says_where_everything_is(tmp_path, capsys):
    workdir = tmp_path / "demo"
    argv = ["demo", "--workdir", str(workdir), "--size", "tiny", "--epochs", "1"]
    argv += ["--batch_size", "4", "--folds", "part3", "--video_seconds", "1"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    # The layout was written and built by the real bp4d builder.
    assert (workdir / "BP4D" / "AUCoding" / "AU_OCC" / "F001_T1.csv").is_file()
    assert "part3: " in out and "faces" in out
    assert "skipped" in out and "(missing_image: " in out  # SynthAU's quirks, counted
    # The protocol's results folder, with the per-AU table printed.
    results = workdir / "cv" / "results"
    for name in ("per_fold.csv", "summary.csv", "results.md", "f1_vs_paper.png"):
        assert (results / name).is_file(), name
    assert "| AU24 |" in out
    # The fold's model, its description and the SavedModel made from them.
    info = json.loads((workdir / "cv" / "seed0" / "part3" / "model.json").read_text())
    assert info["model_name"] == "DRML" and info["face_size"] == 112
    export = json.loads((workdir / "exported" / "drml" / "tfau_export.json").read_text())
    assert export["au_names"][0] == "AU01" and len(export["au_names"]) == 12
    # The video, tfau predict's CSV (scored against the video's truth) and the plots.
    assert (workdir / "video" / "synthau.avi").is_file()
    header = (workdir / "video" / "synthau_aus.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert "AU12_p" in header and "AU12_c" in header
    assert "F1 against the video's ground truth" in out
    assert (workdir / "plots" / "au_timeline_face0.png").is_file()
    assert (workdir / "plots" / "saliency.png").is_file()
    assert f"Everything is in {workdir}" in out


def test_demo_reuses_only_data_written_as_it_writes_it(tmp_path):
    import dataclasses

    from tfau.cli.demo import AU_SCALE, _check_written
    from tfau.synth import get_preset, write_bp4d

    preset = dataclasses.replace(get_preset("tiny"), au_scale=AU_SCALE)
    write_bp4d(tmp_path / "BP4D", size=preset, seed=0, progress=False)
    _check_written(tmp_path / "BP4D", preset, 0)  # the same data: reused
    with pytest.raises(
        ValueError,
        match=r"written with \{'preset': 'tiny', 'seed': 0, 'au_scale': 2.0\}, "
        r"but this demo writes \{'preset': 'tiny', 'seed': 1",
    ):
        _check_written(tmp_path / "BP4D", preset, 1)
    # Data an older demo wrote (AUs at their labelled size, no au_scale in the manifest).
    manifest = tmp_path / "BP4D" / "synthau_manifest.json"
    old = json.loads(manifest.read_text())
    del old["au_scale"]
    manifest.write_text(json.dumps(old))
    with pytest.raises(
        ValueError, match=r"'au_scale': 1.0\}, but this demo writes .*'au_scale': 2.0\}"
    ):
        _check_written(tmp_path / "BP4D", preset, 0)


def test_demo_drml_recipe():
    """The recipe chosen on validation subjects (demo_learning.md): 5 epochs in batches of 16,
    82 px crops (90%) of a face resized to 91 px, no dropout, Adam warmed up to 1e-3 then
    cosine-decayed."""
    from tfau.cli.demo import demo_config
    from tfau.cli.main import build_parser

    args = build_parser().parse_args(["demo"])
    assert (args.batch_size, args.epochs) == (16, 5)

    config = demo_config("DRML", 112, epochs=4, batch_size=16)
    assert config.model_kwargs["input_shape"] == [82, 82, 3]
    assert config.pipeline_kwargs == {"input_size": 82, "source_size": 91}
    assert config.model_kwargs["dropout"] == 0.0
    assert (config.optimizer.schedule, config.optimizer.learning_rate) == ("cosine", 1e-3)
    assert config.optimizer.warmup_epochs == 0.5
    assert demo_config("JAANet", 112, 4, 32).optimizer.schedule == "constant"
