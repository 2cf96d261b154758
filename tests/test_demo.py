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
    # One second of video: BP4D's eight tasks, 3 frames each.
    assert " of 24 frames; F1 against" in out
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


def test_demo_video_films_faces_as_the_data_frames_do(tmp_path):
    """The video's face is as many pixels wide as in the demo's BP4D frames (the alignment then
    resamples both alike), and the video holds the person's eight tasks (demo_learning.md)."""
    import numpy as np

    from tfau.cli.demo import VIDEO_SIZE, video_face_width
    from tfau.cli.main import build_parser
    from tfau.synth import SynthAU, get_preset, write_bp4d

    manifest = write_bp4d(tmp_path, size="tiny", seed=0, progress=False)
    data_width = manifest["image_size"][0]

    def eye_distance(generator):
        points = generator.sequence("F004", "T1", 1).landmarks49.reshape(49, 2)
        left, right = points[19:25].mean(axis=0), points[25:31].mean(axis=0)
        return np.linalg.norm(left - right)

    data = SynthAU("bp4d", image_size=tuple(manifest["image_size"]))
    video = SynthAU("bp4d", image_size=VIDEO_SIZE, face_width=video_face_width(data_width))
    assert eye_distance(video) == pytest.approx(eye_distance(data), rel=0.02)
    assert build_parser().parse_args(["demo"]).video_seconds == 24.0
    assert get_preset("demo").bp4d_tasks == tuple(f"T{i}" for i in range(1, 9))


def test_demo_scores_the_video_person_across_face_ids():
    """After a cut the tracker may give the person a new face id: every frame where a face was
    found counts, the more confident face where two were found."""
    import numpy as np

    from tfau.cli.demo import _one_person
    from tfau.plots.timeline import AUTrack

    def track(face_id, success, p, confidence):
        success = np.array(success, bool)
        p = np.where(success[:, None], np.array(p, float)[:, None], np.nan)
        frames = np.arange(len(success))
        return AUTrack(
            face_id, frames, frames / 25.0, success, (1,), p, None,
            np.where(success, confidence, np.nan),
        )  # fmt: skip

    tracks = {
        0: track(0, [1, 1, 0, 0, 1], [0.9, 0.8, 0, 0, 0.1], 0.99),
        1: track(1, [0, 0, 1, 0, 1], [0, 0, 0.7, 0, 0.6], 0.95),
    }
    found, probability = _one_person(tracks)
    np.testing.assert_array_equal(found, [True, True, True, False, True])
    np.testing.assert_allclose(probability[found, 0], [0.9, 0.8, 0.7, 0.1])
